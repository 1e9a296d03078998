//go:build !linux

package main

// ownProcessGroup does nothing where the launcher does not manage process
// groups.
func ownProcessGroup() {}
