// Command loadcore is the core load run (docs/bench-core.md): N clients
// for a fixed time against a running `dooros serve`, doing what a property
// manager does — list and search People, open a person, invite, give and
// take a key, read Activity — while one more client measures the floor
// (GET /healthz round trips) in the same run. Latency is measured from
// the moment a request is sent to the end of its answer. Any answer with
// an unexpected status is an error; the exit status is 1 if there was one.
//
// It talks to loopback only (refuses another host) and stops after
// -duration: scripts/load-core.sh starts the server and runs it.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "loadcore:", err)
		os.Exit(1)
	}
}

type sample struct {
	op  string
	d   time.Duration
	err error
}

type loader struct {
	base   string
	hc     *http.Client
	token  string
	prop   string
	keys   []string
	people []string // seeded people, read by everyone

	mu      sync.Mutex
	samples []sample
}

func run() error {
	base := flag.String("base", "http://127.0.0.1:8080", "server (loopback only)")
	email := flag.String("email", "pm@example.com", "Portfolio Manager login")
	password := flag.String("password", "", "its password")
	clients := flag.Int("clients", 50, "concurrent clients")
	duration := flag.Duration("duration", 30*time.Second, "how long the load runs (at most 5m)")
	seed := flag.Int("seed", 300, "people invited before the run")
	label := flag.String("label", "", "name of the run in the output")
	flag.Parse()
	u, err := url.Parse(*base)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(u.Hostname()); (ip == nil || !ip.IsLoopback()) && u.Hostname() != "localhost" {
		return fmt.Errorf("%s is not a loopback address", u.Host)
	}
	if *duration > 5*time.Minute || *clients < 1 || *clients > 500 {
		return errors.New("-duration at most 5m, -clients 1..500")
	}
	l := &loader{base: strings.TrimSuffix(*base, "/"), hc: &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: *clients + 2, MaxConnsPerHost: *clients + 2}}}
	if err := l.setup(*email, *password, *seed); err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	loadBefore := loadavg()
	idle := l.floor(context.Background(), 40)

	ctx, cancel := context.WithTimeout(context.Background(), *duration)
	defer cancel()
	var wg sync.WaitGroup
	floorc := make(chan []sample, 1)
	go func() { floorc <- l.floorLoop(ctx) }()
	start := time.Now()
	for i := range *clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l.client(ctx, i)
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	underLoad := <-floorc
	loadAfter := loadavg()

	for _, s := range append(idle, underLoad...) {
		if s.err != nil {
			l.samples = append(l.samples, sample{op: "floor GET /healthz", err: s.err})
		}
	}
	byOp := map[string][]time.Duration{}
	var all []time.Duration
	errs := 0
	var firstErrs []string
	for _, s := range l.samples {
		if s.err != nil {
			errs++
			if len(firstErrs) < 5 {
				firstErrs = append(firstErrs, s.op+": "+s.err.Error())
			}
			continue
		}
		byOp[s.op] = append(byOp[s.op], s.d)
		all = append(all, s.d)
	}
	fmt.Printf("run %s: %d clients for %s against %s\n", *label, *clients, elapsed.Round(time.Millisecond), l.base)
	fmt.Printf("requests %d (%.0f/s), errors %d\n", len(l.samples), float64(len(l.samples))/elapsed.Seconds(), errs)
	fmt.Printf("| op | requests | p50 ms | p99 ms | max ms |\n|---|---|---|---|---|\n")
	ops := make([]string, 0, len(byOp))
	for op := range byOp {
		ops = append(ops, op)
	}
	slices.Sort(ops)
	for _, op := range ops {
		printRow(op, byOp[op])
	}
	printRow("all", all)
	printRow("floor: GET /healthz, idle before the run", durations(idle))
	printRow("floor: GET /healthz, during the run (1 client, every 100 ms)", durations(underLoad))
	fmt.Printf("load average before: %s; after: %s\n", loadBefore, loadAfter)
	for _, e := range firstErrs {
		fmt.Println("error:", e)
	}
	if errs > 0 {
		return fmt.Errorf("%d errors", errs)
	}
	return nil
}

func durations(ss []sample) []time.Duration {
	var out []time.Duration
	for _, s := range ss {
		if s.err == nil {
			out = append(out, s.d)
		}
	}
	return out
}

func printRow(op string, ds []time.Duration) {
	if len(ds) == 0 {
		fmt.Printf("| %s | 0 | | | |\n", op)
		return
	}
	slices.Sort(ds)
	q := func(p float64) float64 {
		i := int(p * float64(len(ds)-1))
		return float64(ds[i].Microseconds()) / 1000
	}
	note := ""
	if len(ds) < 20 {
		note = " (fewer than 20 samples)"
	}
	fmt.Printf("| %s | %d | %.1f | %.1f | %.1f |%s\n", op, len(ds), q(0.50), q(0.99), q(1), note)
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// do sends one request and reads the whole answer; the latency runs from
// just before the request is sent. A status other than want is an error.
func (l *loader) do(ctx context.Context, method, path string, body any, want int, out any) (time.Duration, error) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, l.base+path, rd)
	if err != nil {
		return 0, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if l.token != "" {
		req.Header.Set("Authorization", "Bearer "+l.token)
	}
	start := time.Now()
	res, err := l.hc.Do(req)
	if err != nil {
		return 0, err
	}
	b, err := io.ReadAll(res.Body)
	res.Body.Close()
	d := time.Since(start)
	if err != nil {
		return d, err
	}
	if res.StatusCode != want {
		return d, fmt.Errorf("%s %s: %d: %.200s", method, path, res.StatusCode, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return d, err
		}
	}
	return d, nil
}

type idOnly struct {
	ID string `json:"id"`
}

func (l *loader) setup(email, password string, seed int) error {
	ctx := context.Background()
	var tok struct {
		Token string `json:"token"`
	}
	if _, err := l.do(ctx, "POST", "/api/v1/auth/login", map[string]any{"email": email, "password": password}, 200, &tok); err != nil {
		return err
	}
	l.token = tok.Token
	var prop idOnly
	if _, err := l.do(ctx, "POST", "/api/v1/properties", map[string]any{"name": "Load " + time.Now().Format("150405.000"), "time_zone": "America/New_York"}, 201, &prop); err != nil {
		return err
	}
	l.prop = "/api/v1/properties/" + prop.ID
	var doors []string
	for i, name := range []string{"Lobby", "Garage", "Gym", "Roof"} {
		conn := "offline"
		if i == 0 {
			conn = "online"
		}
		var d idOnly
		if _, err := l.do(ctx, "POST", l.prop+"/doors", map[string]any{"name": name, "type": "communal", "connectivity": conn}, 201, &d); err != nil {
			return err
		}
		doors = append(doors, d.ID)
	}
	for i, name := range []string{"Residents", "Amenities"} {
		var k idOnly
		kd := []map[string]any{{"door_id": doors[2*i], "doorcodes": i == 0}, {"door_id": doors[2*i+1], "doorcodes": false}}
		if _, err := l.do(ctx, "POST", l.prop+"/keys", map[string]any{"name": name, "doors": kd}, 201, &k); err != nil {
			return err
		}
		l.keys = append(l.keys, k.ID)
	}
	// Seed people in parallel (8 at a time), as an import would.
	var mu sync.Mutex
	var firstErr error
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for i := range seed {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			var p idOnly
			_, err := l.do(ctx, "POST", l.prop+"/people", invite(fmt.Sprintf("seed%d", i), l.keys[0]), 201, &p)
			mu.Lock()
			defer mu.Unlock()
			if err != nil && firstErr == nil {
				firstErr = err
			}
			l.people = append(l.people, p.ID)
		}()
	}
	wg.Wait()
	return firstErr
}

var firstNames = []string{"Ana", "Ben", "Chloe", "Dev", "Eve", "Farid", "Gina", "Hugo", "Iris", "Jon"}

func invite(tag, key string) map[string]any {
	n := len(tag)
	return map[string]any{"first_name": firstNames[n%len(firstNames)], "last_name": "Load" + tag, "email": tag + "@load.example.com",
		"access": "app", "resident": true, "keys": []map[string]any{{"key_id": key, "may_share": false}}}
}

func (l *loader) record(op string, d time.Duration, err error) {
	l.mu.Lock()
	l.samples = append(l.samples, sample{op: op, d: d, err: err})
	l.mu.Unlock()
}

// client is one property manager working until ctx ends. Give and take
// act on people this client invited itself, so clients never race on
// the same grant.
func (l *loader) client(ctx context.Context, id int) {
	var mine []string
	held := map[string]bool{} // person → holds the second key
	n := 0
	for ctx.Err() == nil {
		n++
		var op string
		var d time.Duration
		var err error
		seeded := l.people[(id*7919+n*31)%len(l.people)]
		switch r := (id + n*7) % 20; {
		case r < 5:
			op = "GET people (list)"
			d, err = l.do(ctx, "GET", l.prop+"/people", nil, 200, nil)
		case r < 8:
			op = "GET people?q= (search)"
			d, err = l.do(ctx, "GET", l.prop+"/people?q="+url.QueryEscape(firstNames[n%len(firstNames)][:2]+"a"), nil, 200, nil)
		case r < 12:
			op = "GET person"
			d, err = l.do(ctx, "GET", l.prop+"/people/"+seeded, nil, 200, nil)
		case r < 14:
			op = "POST people (invite)"
			var p idOnly
			d, err = l.do(ctx, "POST", l.prop+"/people", invite(fmt.Sprintf("c%dn%d", id, n), l.keys[0]), 201, &p)
			if err == nil {
				mine = append(mine, p.ID)
			}
		case r < 17 && len(mine) > 0:
			p := mine[n%len(mine)]
			if held[p] {
				op = "DELETE person key (take)"
				d, err = l.do(ctx, "DELETE", l.prop+"/people/"+p+"/keys/"+l.keys[1], nil, 200, nil)
			} else {
				op = "PUT person key (give)"
				d, err = l.do(ctx, "PUT", l.prop+"/people/"+p+"/keys/"+l.keys[1], map[string]any{"may_share": false}, 200, nil)
			}
			if err == nil {
				held[p] = !held[p]
			}
		default:
			op = "GET activity"
			d, err = l.do(ctx, "GET", l.prop+"/activity?limit=50", nil, 200, nil)
		}
		if ctx.Err() != nil && err != nil {
			return // cut by the end of the run, not an answer
		}
		l.record(op, d, err)
	}
}

// floor measures GET /healthz round trips one at a time.
func (l *loader) floor(ctx context.Context, n int) []sample {
	var out []sample
	for range n {
		d, err := l.do(ctx, "GET", "/healthz", nil, 200, nil)
		out = append(out, sample{op: "floor", d: d, err: err})
	}
	return out
}

func (l *loader) floorLoop(ctx context.Context) []sample {
	var out []sample
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return out
		case <-t.C:
		}
		d, err := l.do(ctx, "GET", "/healthz", nil, 200, nil)
		if ctx.Err() != nil && err != nil {
			return out
		}
		out = append(out, sample{op: "floor", d: d, err: err})
	}
}
