package sidecar

import (
	"context"
	"fmt"
	"sort"
)

// Metadata is what a sidecar reports about itself: the components it loaded
// and the subscriptions it serves for its app.
type Metadata struct {
	AppID          string         `json:"app_id"`
	RuntimeVersion string         `json:"runtime_version"`
	Components     []Component    `json:"components"`
	Subscriptions  []Subscription `json:"subscriptions"`
}

// Component is one loaded Dapr component.
type Component struct {
	Name         string   `json:"name"`
	Type         string   `json:"type"`
	Version      string   `json:"version"`
	Capabilities []string `json:"capabilities"`
}

// Subscription is one pub/sub subscription of the app.
type Subscription struct {
	PubSubName      string   `json:"pubsub_name"`
	Topic           string   `json:"topic"`
	Routes          []string `json:"routes"`
	DeadLetterTopic string   `json:"dead_letter_topic,omitempty"`
}

// Metadata asks the sidecar for its metadata, components and subscriptions
// sorted by name.
func (c *Client) Metadata(ctx context.Context) (Metadata, error) {
	ctx, cancel := opContext(ctx)
	defer cancel()
	md, err := c.sdk.GetMetadata(ctx)
	if err != nil {
		return Metadata{}, fmt.Errorf("%w: metadata: %v", ErrSidecar, err)
	}
	out := Metadata{AppID: md.ID, RuntimeVersion: md.ExtendedMetadata["daprRuntimeVersion"],
		Components: []Component{}, Subscriptions: []Subscription{}}
	for _, rc := range md.RegisteredComponents {
		caps := append([]string{}, rc.Capabilities...)
		sort.Strings(caps)
		out.Components = append(out.Components, Component{Name: rc.Name, Type: rc.Type, Version: rc.Version, Capabilities: caps})
	}
	sort.Slice(out.Components, func(i, j int) bool { return out.Components[i].Name < out.Components[j].Name })
	for _, s := range md.Subscriptions {
		sub := Subscription{PubSubName: s.PubsubName, Topic: s.Topic, DeadLetterTopic: s.DeadLetterTopic, Routes: []string{}}
		if s.Rules != nil {
			for _, r := range s.Rules.Rules {
				sub.Routes = append(sub.Routes, r.Path)
			}
		}
		out.Subscriptions = append(out.Subscriptions, sub)
	}
	sort.Slice(out.Subscriptions, func(i, j int) bool { return out.Subscriptions[i].Topic < out.Subscriptions[j].Topic })
	return out, nil
}
