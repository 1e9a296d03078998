package harness

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/finflow/finflow/platform/envconfig"
	"github.com/finflow/finflow/tools/launcher/topology"
)

// Backend profiles: which servers hold the state and carry the events.
const (
	// ProfileRedis keeps state and events in Redis (dapr.yaml, components/).
	ProfileRedis = "redis"
	// ProfilePostgres keeps state in PostgreSQL and events in RabbitMQ
	// (dapr.postgres.yaml, profiles/postgres/components); runtime settings
	// and the gateway's rate limits stay in the suite's Redis.
	ProfilePostgres = "postgres"
)

// Profile returns the backend profile the suites run on: $PROFILE, which
// `make test PROFILE=postgres` sets, or ProfileRedis.
func Profile() string {
	switch p := os.Getenv("PROFILE"); p {
	case "", ProfileRedis:
		return ProfileRedis
	default:
		return p
	}
}

// runFileFor is the run file of a profile.
func runFileFor(profile string) (string, error) {
	switch profile {
	case ProfileRedis:
		return "dapr.yaml", nil
	case ProfilePostgres:
		return "dapr.postgres.yaml", nil
	}
	return "", fmt.Errorf("unknown PROFILE %q: use %q or %q", profile, ProfileRedis, ProfilePostgres)
}

// postgresBackends are a suite's own PostgreSQL database and RabbitMQ
// virtual host, so that runs never see each other's data or events, and
// the local servers keep nothing once the suite ends.
type postgresBackends struct {
	adminURL string
	database string
	vhost    string
	// stateURL is the suite's database, where every service's state
	// store keeps its table (<app>_state).
	stateURL string
}

// Addresses of the local servers, overridable for other machines.
func postgresAdminURL() string {
	return envconfig.New().String("FINFLOW_TEST_POSTGRES", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable")
}

func rabbitmqAddr() string {
	return envconfig.New().String("FINFLOW_TEST_RABBITMQ", "guest:guest@127.0.0.1:5672")
}

// rabbitmqURL parses rabbitmqAddr (user:password@host:port) as an AMQP URL.
func rabbitmqURL() (*url.URL, error) {
	u, err := url.Parse("amqp://" + rabbitmqAddr())
	if err != nil || u.Host == "" || u.User == nil || u.User.Username() == "" {
		return nil, fmt.Errorf("PROFILE=postgres: FINFLOW_TEST_RABBITMQ %q is not user:password@host:port", rabbitmqAddr())
	}
	return u, nil
}

// Suite databases and virtual hosts are named finflow_t_<suite>_<time>_<pid>
// (finflow-t-... for virtual hosts); sweepAfter is when one a killed run
// left behind is dropped by the next run.
const sweepAfter = 2 * time.Hour

// startPostgresBackends creates the suite's database and virtual host and
// returns the component overrides that point the topology at them.
func startPostgresBackends(name string) (*postgresBackends, []topology.MetadataOverride, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	amqp, err := rabbitmqURL()
	if err != nil {
		return nil, nil, err
	}
	suffix := strings.NewReplacer("-", "_").Replace(name) + "_" + time.Now().Format("20060102150405") + "_" + strconv.Itoa(os.Getpid())
	b := &postgresBackends{adminURL: postgresAdminURL(), database: "finflow_t_" + suffix, vhost: "finflow-t-" + strings.ReplaceAll(suffix, "_", "-")}

	conn, err := pgx.Connect(ctx, b.adminURL)
	if err != nil {
		return nil, nil, fmt.Errorf("PROFILE=postgres: PostgreSQL does not answer at %s (set FINFLOW_TEST_POSTGRES): %w", b.adminURL, err)
	}
	defer conn.Close(ctx)
	sweep(ctx, conn)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{b.database}.Sanitize()); err != nil {
		return nil, nil, fmt.Errorf("PROFILE=postgres: creating the suite's database: %w", err)
	}
	if err := rabbitmqctl(ctx, "add_vhost", b.vhost); err != nil {
		b.stop()
		return nil, nil, err
	}
	if err := rabbitmqctl(ctx, "set_permissions", "-p", b.vhost, amqp.User.Username(), ".*", ".*", ".*"); err != nil {
		b.stop()
		return nil, nil, err
	}
	c, err := net.DialTimeout("tcp", amqp.Host, 3*time.Second)
	if err != nil {
		b.stop()
		return nil, nil, fmt.Errorf("PROFILE=postgres: RabbitMQ does not answer at %s (set FINFLOW_TEST_RABBITMQ): %w", amqp.Host, err)
	}
	c.Close()

	cfg, err := pgx.ParseConfig(b.adminURL)
	if err != nil {
		b.stop()
		return nil, nil, err
	}
	// A URL, so that every part is escaped.
	pgURL := url.URL{Scheme: "postgres", Host: net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port))), Path: "/" + b.database, RawQuery: "sslmode=disable"}
	if cfg.Password != "" {
		pgURL.User = url.UserPassword(cfg.User, cfg.Password)
	} else {
		pgURL.User = url.User(cfg.User)
	}
	amqp.Path = "/" + b.vhost
	b.stateURL = pgURL.String()
	return b, []topology.MetadataOverride{
		{Type: "state.postgresql", Name: "connectionString", Value: pgURL.String()},
		{Type: "pubsub.rabbitmq", Name: "connectionString", Value: amqp.String()},
	}, nil
}

// stop drops the suite's database and virtual host.
func (b *postgresBackends) stop() {
	if b == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if conn, err := pgx.Connect(ctx, b.adminURL); err == nil {
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{b.database}.Sanitize()+" WITH (FORCE)"); err != nil {
			fmt.Fprintf(os.Stderr, "harness: dropping database %s: %v\n", b.database, err)
		}
		conn.Close(ctx)
	}
	_ = rabbitmqctl(ctx, "delete_vhost", b.vhost)
}

// sweep drops the suite databases and virtual hosts older than sweepAfter:
// what runs that were killed before their Stop left behind.
func sweep(ctx context.Context, conn *pgx.Conn) {
	old := func(name, sep string) bool {
		parts := strings.Split(name, sep)
		if len(parts) < 3 {
			return false
		}
		t, err := time.Parse("20060102150405", parts[len(parts)-2])
		return err == nil && time.Since(t) > sweepAfter
	}
	if rows, err := conn.Query(ctx, "SELECT datname FROM pg_database WHERE datname LIKE 'finflow_t_%'"); err == nil {
		names, _ := pgx.CollectRows(rows, pgx.RowTo[string])
		for _, n := range names {
			if old(n, "_") {
				_, _ = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{n}.Sanitize()+" WITH (FORCE)")
			}
		}
	}
	if bin, err := exec.LookPath("rabbitmqctl"); err == nil {
		out, _ := exec.CommandContext(ctx, bin, "-q", "list_vhosts").Output()
		for _, n := range strings.Fields(string(out)) {
			if strings.HasPrefix(n, "finflow-t-") && old(n, "-") {
				_ = rabbitmqctl(ctx, "delete_vhost", n)
			}
		}
	}
}

// rabbitmqctl runs RabbitMQ's control tool (virtual hosts cannot be made
// over AMQP, and the management plugin is often off).
func rabbitmqctl(ctx context.Context, args ...string) error {
	bin, err := exec.LookPath("rabbitmqctl")
	if err != nil {
		return fmt.Errorf("PROFILE=postgres: rabbitmqctl is not on PATH; the suites give every run its own RabbitMQ virtual host with it (install rabbitmq-server, or run them where it is)")
	}
	out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("PROFILE=postgres: rabbitmqctl %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// deleteState deletes keys from a service's state table in the suite's
// database (a test standing in for a lost record), and says how many were
// there.
func (b *postgresBackends) deleteState(ctx context.Context, table string, keys ...string) (int64, error) {
	conn, err := pgx.Connect(ctx, b.stateURL)
	if err != nil {
		return 0, err
	}
	defer conn.Close(ctx)
	tag, err := conn.Exec(ctx, "DELETE FROM "+pgx.Identifier{table}.Sanitize()+" WHERE key = ANY($1)", keys)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}

// stateValues reads the rows of a service's state table whose key begins
// with prefix.
func (b *postgresBackends) stateValues(ctx context.Context, table, prefix string) (map[string]string, error) {
	conn, err := pgx.Connect(ctx, b.stateURL)
	if err != nil {
		return nil, err
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, "SELECT key, value::text FROM "+pgx.Identifier{table}.Sanitize()+" WHERE starts_with(key, $1)", prefix)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return nil, err
		}
		out[k] = v
	}
	return out, rows.Err()
}
