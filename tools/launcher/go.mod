module github.com/finflow/finflow/tools/launcher

go 1.24

require (
	github.com/golang-jwt/jwt/v5 v5.3.1
	github.com/prometheus/procfs v0.15.1
	github.com/redis/go-redis/v9 v9.14.1
	gopkg.in/yaml.v3 v3.0.1
)

require (
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/dgryski/go-rendezvous v0.0.0-20200823014737-9f7001d12a5f // indirect
	golang.org/x/sys v0.20.0 // indirect
)
