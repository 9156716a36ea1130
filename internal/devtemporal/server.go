// Package devtemporal runs a Temporal server inside the dsar process for
// `dsar dev` and the end-to-end tests: the real server from
// go.temporal.io/server on SQLite, one history shard, no external process.
// On PostgreSQL (the postgres12 plugin, its schema set up on first start)
// it is the Temporal server of `dsar temporal-server`, which the chaos
// run starts as a process of its own (docs/reliability.md). Production
// uses a Temporal cluster instead.
package devtemporal

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"

	"go.temporal.io/server/common/cluster"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/dynamicconfig"
	"go.temporal.io/server/common/membership/static"
	"go.temporal.io/server/common/persistence/sql/sqlplugin"
	sqliteplugin "go.temporal.io/server/common/persistence/sql/sqlplugin/sqlite"
	"go.temporal.io/server/common/primitives"
	sqliteschema "go.temporal.io/server/schema/sqlite"
	"go.temporal.io/server/temporal"
)

// Options configure an embedded server.
type Options struct {
	// Address is the frontend's host:port; port 0 picks a free one.
	Address string
	// DatabaseFile keeps the server's state across restarts. Empty means
	// in memory, gone when the process ends (tests).
	DatabaseFile string
	Namespace    string
	Logger       *slog.Logger
	// PostgresURL and PostgresVisibilityURL, when set, keep the server's
	// state and its visibility records in these two PostgreSQL databases
	// (postgres://user:password@host:port/name) instead of SQLite. The
	// databases must exist; their tables are created on first start.
	PostgresURL           string
	PostgresVisibilityURL string
}

// Server is a running embedded Temporal server.
type Server struct {
	server   temporal.Server
	address  string
	stopping *atomic.Bool
}

// Address is the frontend's host:port, for client.Options.HostPort.
func (s *Server) Address() string { return s.address }

// Stop shuts the server down.
func (s *Server) Stop() error {
	s.stopping.Store(true)
	return s.server.Stop()
}

const clusterName = "active"

// Start builds and starts a server. It returns once the frontend accepts
// connections.
func Start(o Options) (*Server, error) {
	if o.Namespace == "" || o.Logger == nil {
		return nil, errors.New("devtemporal: namespace and logger are required")
	}
	host, portText, err := net.SplitHostPort(o.Address)
	if err != nil {
		return nil, fmt.Errorf("devtemporal: address %q: %w", o.Address, err)
	}
	port, err := strconv.Atoi(portText)
	if err != nil {
		return nil, fmt.Errorf("devtemporal: port %q: %w", portText, err)
	}
	if port == 0 {
		if port, err = freePort(host); err != nil {
			return nil, err
		}
	}
	store, visibility := "sqlite", "sqlite"
	stores := map[string]config.DataStore{}
	if o.PostgresURL != "" || o.PostgresVisibilityURL != "" {
		if o.PostgresURL == "" || o.PostgresVisibilityURL == "" {
			return nil, errPostgresPair
		}
		main, vis, err := postgresConfigs(o)
		if err != nil {
			return nil, err
		}
		store, visibility = "postgres", "postgres-visibility"
		stores[store] = config.DataStore{SQL: main}
		stores[visibility] = config.DataStore{SQL: vis}
	} else {
		sqlConf, err := sqlConfig(o)
		if err != nil {
			return nil, err
		}
		stores[store] = config.DataStore{SQL: sqlConf}
	}

	frontend := net.JoinHostPort(host, strconv.Itoa(port))
	services := map[string]config.Service{}
	hosts := map[primitives.ServiceName]static.Hosts{}
	for _, name := range []primitives.ServiceName{primitives.FrontendService, primitives.HistoryService, primitives.MatchingService, primitives.WorkerService} {
		svc := config.Service{RPC: config.RPC{BindOnIP: host}}
		if name == primitives.FrontendService {
			svc.RPC.GRPCPort = port
			if svc.RPC.HTTPPort, err = freePort(host); err != nil {
				return nil, err
			}
		} else if svc.RPC.GRPCPort, err = freePort(host); err != nil {
			return nil, err
		}
		services[string(name)] = svc
		hosts[name] = static.SingleLocalHost(net.JoinHostPort(host, strconv.Itoa(svc.RPC.GRPCPort)))
	}

	conf := &config.Config{
		Global: config.Global{Membership: config.Membership{MaxJoinDuration: 30 * time.Second, BroadcastAddress: host}},
		Persistence: config.Persistence{
			DefaultStore:     store,
			VisibilityStore:  visibility,
			NumHistoryShards: 1,
			DataStores:       stores,
		},
		ClusterMetadata: &cluster.Config{
			EnableGlobalNamespace:    false,
			FailoverVersionIncrement: 10,
			MasterClusterName:        clusterName,
			CurrentClusterName:       clusterName,
			ClusterInformation: map[string]cluster.ClusterInformation{clusterName: {
				Enabled:                true,
				InitialFailoverVersion: 1,
				RPCAddress:             frontend,
				HTTPAddress:            net.JoinHostPort(host, strconv.Itoa(services["frontend"].RPC.HTTPPort)),
				ClusterID:              "dsar-dev",
			}},
		},
		DCRedirectionPolicy: config.DCRedirectionPolicy{Policy: "noop"},
		Services:            services,
		PublicClient:        config.PublicClient{HostPort: frontend},
	}
	conf.Archival.History.State = "disabled"
	conf.Archival.Visibility.State = "disabled"
	conf.NamespaceDefaults.Archival.History.State = "disabled"
	conf.NamespaceDefaults.Archival.Visibility.State = "disabled"

	dyn := dynamicconfig.StaticClient{
		dynamicconfig.FrontendMaxNamespaceVisibilityRPSPerInstance.Key(): 100,
	}
	stopping := &atomic.Bool{}
	srv, err := temporal.NewServer(
		temporal.WithConfig(conf),
		temporal.ForServices(temporal.DefaultServices),
		temporal.WithStaticHosts(hosts),
		temporal.WithLogger(newLogger(o.Logger, stopping)),
		temporal.WithDynamicConfigClient(dyn),
	)
	if err != nil {
		return nil, fmt.Errorf("devtemporal: build server: %w", err)
	}
	if err := srv.Start(); err != nil {
		return nil, fmt.Errorf("devtemporal: start server: %w", err)
	}
	return &Server{server: srv, address: frontend, stopping: stopping}, nil
}

func sqlConfig(o Options) (*config.SQL, error) {
	conf := &config.SQL{PluginName: sqliteplugin.PluginName}
	if o.DatabaseFile == "" {
		conf.DatabaseName = "dsar-" + strconv.FormatInt(time.Now().UnixNano(), 36)
		conf.ConnectAttributes = map[string]string{"mode": "memory", "cache": "shared"}
	} else {
		// WAL with synchronous=normal roughly doubles workflow throughput
		// over SQLite's defaults and stays crash-safe for the database.
		conf.DatabaseName = o.DatabaseFile
		conf.ConnectAttributes = map[string]string{"mode": "rwc", "journal_mode": "wal", "synchronous": "1"}
		if _, err := os.Stat(o.DatabaseFile); errors.Is(err, os.ErrNotExist) {
			if err := os.MkdirAll(filepath.Dir(o.DatabaseFile), 0o700); err != nil {
				return nil, fmt.Errorf("devtemporal: %w", err)
			}
			if err := sqliteschema.SetupSchema(conf); err != nil {
				return nil, fmt.Errorf("devtemporal: set up schema in %s: %w", o.DatabaseFile, err)
			}
		}
	}
	ns, err := sqliteschema.NewNamespaceConfig(clusterName, o.Namespace, false, nil)
	if err != nil {
		return nil, fmt.Errorf("devtemporal: namespace: %w", err)
	}
	if err := sqliteschema.CreateNamespaces(conf, ns); err != nil {
		return nil, fmt.Errorf("devtemporal: create namespace: %w", err)
	}
	return conf, nil
}

// postgresConfigs sets up the two PostgreSQL databases and registers
// the namespace in the main one.
func postgresConfigs(o Options) (main, vis *config.SQL, err error) {
	if main, err = postgresConfig(o.PostgresURL); err != nil {
		return nil, nil, err
	}
	if vis, err = postgresConfig(o.PostgresVisibilityURL); err != nil {
		return nil, nil, err
	}
	if err := setupPostgres(main, sqlplugin.DbKindMain); err != nil {
		return nil, nil, err
	}
	if err := setupPostgres(vis, sqlplugin.DbKindVisibility); err != nil {
		return nil, nil, err
	}
	// The schema package's namespace registration is SQLite's by name
	// only: it writes through the generic SQL persistence.
	ns, err := sqliteschema.NewNamespaceConfig(clusterName, o.Namespace, false, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("devtemporal: namespace: %w", err)
	}
	if err := sqliteschema.CreateNamespaces(main, ns); err != nil {
		return nil, nil, fmt.Errorf("devtemporal: create namespace: %w", err)
	}
	return main, vis, nil
}

func freePort(host string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, fmt.Errorf("devtemporal: find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
