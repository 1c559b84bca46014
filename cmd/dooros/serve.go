package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"time"

	"github.com/dooros/dooros/api"
	"github.com/dooros/dooros/console"
	"github.com/dooros/dooros/demo"
	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/keyring"
	"github.com/dooros/dooros/mail"
	"github.com/dooros/dooros/notify"
	"github.com/dooros/dooros/residentweb"
	"github.com/dooros/dooros/throttle"
	"github.com/dooros/dooros/webhook"
)

// serveConfig is everything "dooros serve" can be told.
type serveConfig struct {
	db   dbFlags
	addr string
	// Residents: mail transport and the master key sealing property keys.
	smtpURL, smtpFrom, masterKeyFile string
	// publicURL starts every link in emails (default http://<addr>).
	publicURL string
	// demo seeds a demo property and prints its login.
	demo bool
	// mqtt: the broker of online locks (cmd/dooros/doorsync.go).
	mqtt mqttFlags
	// pmsDir is the PMS roster watched folder (cmd/dooros/import.go).
	pmsDir string
	// trustedProxies may set X-Forwarded-For (throttle.ParseProxies).
	trustedProxies string
	// webhooksAllowPrivate lets webhooks reach plain http and private,
	// loopback and link-local receivers (webhook package).
	webhooksAllowPrivate bool
	// pprofAddr serves runtime profiles on a loopback listener (pprof.go).
	pprofAddr string
}

func runServe(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	var cfg serveConfig
	cfg.db.register(fs, getenv)
	fs.StringVar(&cfg.addr, "addr", envOr(getenv, "DOOROS_ADDR", "127.0.0.1:8080"), "listen address [DOOROS_ADDR]")
	fs.StringVar(&cfg.smtpURL, "smtp-url", getenv("DOOROS_SMTP_URL"), "send email through this relay: smtp://user:pass@host:port or smtps://… (default: local mailbox under --data) [DOOROS_SMTP_URL]")
	fs.StringVar(&cfg.smtpFrom, "smtp-from", getenv("DOOROS_SMTP_FROM"), "sender of emails, \"Name <addr>\" [DOOROS_SMTP_FROM]")
	fs.StringVar(&cfg.masterKeyFile, "master-key-file", getenv("DOOROS_MASTER_KEY_FILE"), "file with the base64 32-byte master key sealing property keys (default --data/master.key, created on first start with SQLite); DOOROS_MASTER_KEY overrides [DOOROS_MASTER_KEY_FILE]")
	fs.StringVar(&cfg.publicURL, "public-url", getenv("DOOROS_PUBLIC_URL"), "the server's address as people reach it, e.g. https://door.example.com: every link in emails starts with it (default http://<addr>) [DOOROS_PUBLIC_URL]")
	fs.BoolVar(&cfg.demo, "demo", false, "seed a demo property (reused on later runs) and print its login")
	cfg.mqtt.register(fs, getenv)
	fs.StringVar(&cfg.pmsDir, "pms-dir", getenv("DOOROS_PMS_DIR"), "watched folder of PMS roster files: DIR/{property_id}/{provider}/*.csv|json|xml [DOOROS_PMS_DIR]")
	fs.StringVar(&cfg.trustedProxies, "trusted-proxies", getenv("DOOROS_TRUSTED_PROXIES"), "reverse proxies whose X-Forwarded-For gives the client address for login limits: CIDR prefixes or addresses, comma-separated (default none: the peer address counts) [DOOROS_TRUSTED_PROXIES]")
	fs.BoolVar(&cfg.webhooksAllowPrivate, "webhooks-allow-private", getenv("DOOROS_WEBHOOKS_ALLOW_PRIVATE") == "true", "let webhooks go to plain http:// URLs and to private, loopback and link-local addresses (local receivers, tests); off: https to public addresses only [DOOROS_WEBHOOKS_ALLOW_PRIVATE=true]")
	fs.StringVar(&cfg.pprofAddr, "pprof-addr", getenv("DOOROS_PPROF_ADDR"), "serve Go runtime profiles (/debug/pprof/) on this loopback address, e.g. 127.0.0.1:6060 (default off) [DOOROS_PPROF_ADDR]")
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	if err := cfg.mqtt.check(); err != nil {
		return err
	}
	proxies, err := throttle.ParseProxies(cfg.trustedProxies)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	stopPprof, err := startPprof(ctx, cfg.pprofAddr, log)
	if err != nil {
		return err
	}
	defer stopPprof()

	st, err := cfg.db.open(ctx, log)
	if err != nil {
		return err
	}
	defer st.Close()
	metrics := api.NewMetrics()
	st.Observe = metrics.ObserveStore

	keyFile := cfg.masterKeyFile
	if keyFile == "" {
		keyFile = filepath.Join(cfg.db.data, "master.key")
	}
	keys, created, err := keyring.Open(getenv("DOOROS_MASTER_KEY"), keyFile, cfg.masterKeyFile == "" && cfg.db.db == "", st)
	if err != nil {
		return err
	}
	if created {
		log.Warn("created a new master key; back it up: without it property keys cannot be opened", "file", keyFile)
	}
	sender, via, err := notify.NewSender(cfg.smtpURL, cfg.smtpFrom, cfg.db.data)
	if err != nil {
		return err
	}
	// The console shows the local mailbox only in the embedded default.
	mailbox, _ := sender.(*mail.Mailbox)
	var demoLogin *demo.Result
	if cfg.demo {
		res, err := demo.Seed(ctx, st, demo.Options{PasswordFile: filepath.Join(cfg.db.data, "demo-login.txt")})
		if err != nil {
			return err
		}
		demoLogin = &res
	}

	stopInstance, err := registerInstance(ctx, st, cfg, log)
	if err != nil {
		return err
	}
	defer stopInstance()

	mux := http.NewServeMux()
	apiServer := api.New(st, log, metrics)
	apiServer.Keys = keys
	// Failed logins are counted in the database, so the limits hold
	// across every instance on it.
	apiServer.Limiter = throttle.NewSharedLogin(st, proxies, log.With("throttle", "login"))
	doorSync, stopDoorSync, err := startDoorSync(ctx, cfg.mqtt, st, keys, log)
	if err != nil {
		return err
	}
	defer stopDoorSync()
	var demoLocks *demo.Locks
	if demoLogin != nil {
		if demoLocks, err = demo.StartLocks(ctx, doorSync, *demoLogin, log.With("demo", "locks")); err != nil {
			return err
		}
		defer demoLocks.Close()
	}
	pmsSyncer := newSyncer(st, log, cfg.pmsDir)
	apiServer.DoorSync, apiServer.PMS = doorSync, pmsSyncer
	webhookPolicy := domain.WebhookPolicy{AllowPrivate: cfg.webhooksAllowPrivate}
	apiServer.Webhooks = webhookPolicy
	apiServer.ZWave = startZWave(ctx, st, keys, log)
	apiServer.Routes(mux)
	console.New(st, mailbox, log, console.Options{Limiter: apiServer.Limiter, DoorSync: doorSync, PMS: pmsSyncer, Keys: keys, Webhooks: webhookPolicy, ZWave: apiServer.ZWave}).Routes(mux)
	residentApp, err := residentweb.New()
	if err != nil {
		return err
	}
	residentApp.Routes(mux) // the resident web app, /app/
	mux.Handle("GET /metrics", metrics.Handler())
	mux.HandleFunc("GET /healthz", apiServer.Healthz)
	metrics.WatchHealth(apiServer)

	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: metrics.Instrument(mux), ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(stdout, "DOOR OS listening on http://%s (database: %s)\n", ln.Addr(), redact(cfg.db.dsn()))
	if demoLogin != nil {
		fmt.Fprintf(stdout, "Demo: open http://%s and log in as %s with password %s\n      (%s, same password, is a Property Manager without Key Management)\n",
			ln.Addr(), demoLogin.Email, demoLogin.Password, demoLogin.LimitedEmail)
		demoLocks.Print(stdout, "http://"+ln.Addr().String())
	}
	publicURL, err := notify.PublicURL(cfg.publicURL, ln.Addr().String())
	if err != nil {
		return err
	}
	if ok, err := st.Initialized(ctx); err == nil && !ok {
		fmt.Fprintf(stdout, "First run: open %s/setup in a browser to create your organisation and first Portfolio Manager (or run `dooros init`).\n", publicURL)
	}
	mailer := &notify.Worker{Store: st, Sender: sender, Keys: keys, Log: log.With("worker", "email"), PublicURL: publicURL, InvitationPage: notify.InvitationPage(mux)}
	defer mailer.Start(ctx)() // waits for the email in flight before the store closes
	defer startBulk(ctx, st, log, pmsSyncer)()
	hooks := &webhook.Worker{Store: st, Keys: keys, Policy: webhookPolicy, Log: log.With("worker", "webhooks")}
	defer hooks.Start(ctx)() // finishes the deliveries in flight before the store closes
	log.Info("email delivery", "via", via)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case <-ctx.Done():
	case err := <-errc:
		return err
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// redact hides a password in a database URL before printing it.
func redact(dsn string) string {
	for i := 0; i+3 < len(dsn); i++ {
		if dsn[i:i+3] == "://" {
			rest := dsn[i+3:]
			at := -1
			for j := 0; j < len(rest) && rest[j] != '/'; j++ {
				if rest[j] == '@' {
					at = j
				}
			}
			if at >= 0 {
				return dsn[:i+3] + "***@" + rest[at+1:]
			}
		}
	}
	return dsn
}
