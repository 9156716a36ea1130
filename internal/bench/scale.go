package bench

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/dsar-project/dsar/internal/app"
	"github.com/dsar-project/dsar/internal/config"
)

// childRoleEnv makes the benchmark binary a web process instead of a
// worker (childEnv then names the file where it writes its address).
const childRoleEnv = "DSAR_BENCH_CHILD_ROLE"

// childWeb serves dsar's web server in this process until it is killed,
// after writing the address it listens on to the file out.
func childWeb(out string) {
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, "bench child web:", err)
		os.Exit(1)
	}
	ctx := context.Background()
	cfg, err := config.Load(os.Getenv)
	if err == nil {
		err = cfg.Validate()
	}
	if err != nil {
		fail(err)
	}
	a, err := app.Open(ctx, cfg, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})), false)
	if err != nil {
		fail(err)
	}
	srv, err := a.NewWebServer()
	if err != nil {
		fail(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fail(err)
	}
	if err := os.WriteFile(out+".tmp", []byte(ln.Addr().String()), 0o600); err != nil {
		fail(err)
	}
	if err := os.Rename(out+".tmp", out); err != nil {
		fail(err)
	}
	fail(app.Serve(ctx, srv, ln))
}

// webProcess is a dsar web server in a process of its own.
type webProcess struct {
	inst *Instance // Base is the process's; the rest is the main instance's
	cmd  *exec.Cmd
}

// startWeb starts a web process on the main instance's databases and
// Temporal server, its requests' workflows on queue, and waits until it
// answers.
func (e *Env) startWeb(ctx context.Context, name, queue string) (*webProcess, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	addrFile := filepath.Join(e.tmp, "web-"+name+".addr")
	cmd := exec.Command(self)
	cmd.Env = os.Environ()
	for k, v := range e.Main.Env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Env = append(cmd.Env, "DSAR_TASK_QUEUE="+queue, "DSAR_DATAMAP=", childEnv+"="+addrFile, childRoleEnv+"=web", "DSAR_LOG_LEVEL=warn")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			e.opts.Log.Warn("child web "+name, "line", sc.Text())
		}
	}()
	p := &webProcess{cmd: cmd}
	inst := *e.Main
	p.inst = &inst
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		if b, err := os.ReadFile(addrFile); err == nil {
			inst.Base = "http://" + string(b)
			if resp, err := http.Get(inst.Base + "/readyz"); err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return p, nil
				}
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			p.stop()
			return nil, fmt.Errorf("web process %s did not answer /readyz within a minute", name)
		}
	}
}

func (p *webProcess) stop() {
	p.cmd.Process.Kill()
	p.cmd.Wait()
}

// cpu is the CPU time the process has used so far.
func (p *webProcess) cpu() time.Duration { return processCPU(p.cmd.Process.Pid) }

// processCPU reads a process's user and system time from /proc (zero
// where /proc is not there).
func processCPU(pid int) time.Duration {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// The command name, in parentheses, may hold spaces; the fields
	// after it start with the state (field 3); utime and stime are 14
	// and 15, in clock ticks of 1/100 s on Linux.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+st) * 10 * time.Millisecond
}

// postgresCPU is the CPU time used so far by this machine's PostgreSQL
// processes that are alive; seen is false when there are none to read
// (a server elsewhere).
func postgresCPU() (sum time.Duration, seen bool) {
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		comm, err := os.ReadFile(d + "/comm")
		if err != nil || strings.TrimSpace(string(comm)) != "postgres" {
			continue
		}
		pid, _ := strconv.Atoi(filepath.Base(d))
		sum += processCPU(pid)
		seen = true
	}
	return sum, seen
}

// scaleOut: intake spread over two web processes of their own beside
// the same intake to one, with the CPU each part of the system spends
// per request, from which docs/operations.md projects a cluster.
func scaleOut(ctx context.Context, e *Env) (Result, error) {
	sz := e.opts.Sizes
	r := Result{
		What: fmt.Sprintf("%d POST /api/v1/requests from %d concurrent clients spread over two dsar web processes of their own (same dsar database, same Temporal server); the CPU per request is each part's CPU time over the requests: the web processes, the benchmark's process (the embedded Temporal server, with the clients) and PostgreSQL (all its processes on the machine).",
			sz.IntakeRequests, sz.IntakeClients),
		Baseline: "the same requests to one of those web processes",
		Goal:     "two processes ≥ 0.9 × one's rate (a second process adds no contention)",
	}
	web := make([]*webProcess, 2)
	for i := range web {
		p, err := e.startWeb(ctx, strconv.Itoa(i+1), noWorkerQueue)
		if err != nil {
			return r, err
		}
		defer p.stop()
		web[i] = p
	}
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: sz.IntakeClients}}
	type cost struct{ web, temporal, postgres time.Duration }
	measure := func(procs []*webProcess) (rate float64, durs []time.Duration, per cost, err error) {
		self := os.Getpid()
		var w0 time.Duration
		for _, p := range web {
			w0 += p.cpu()
		}
		t0 := processCPU(self)
		pg0, _ := postgresCPU()
		run := time.Now().UnixNano()
		var turn atomic.Int64
		durs, wall, err := timed(ctx, sz.IntakeRequests, sz.IntakeClients, func(i int) error {
			p := procs[int(turn.Add(1))%len(procs)]
			body := map[string]any{"type": "access", "email": fmt.Sprintf("scale-%d-%d@example.net", run, i), "name": "Scale Benchmark"}
			code, err := p.inst.call(ctx, hc, "POST", "/api/v1/requests", false, body, nil)
			if err == nil && code != http.StatusCreated {
				err = fmt.Errorf("POST /api/v1/requests answered %d", code)
			}
			return err
		})
		if err != nil {
			return 0, nil, cost{}, err
		}
		var w1 time.Duration
		for _, p := range web {
			w1 += p.cpu()
		}
		n := time.Duration(sz.IntakeRequests)
		pg1, seen := postgresCPU()
		per = cost{web: (w1 - w0) / n, temporal: (processCPU(self) - t0) / n, postgres: -1}
		if seen {
			per.postgres = (pg1 - pg0) / n
		}
		return float64(sz.IntakeRequests) / wall.Seconds(), durs, per, nil
	}
	// A first round warms both processes' connections and caches.
	if _, _, _, err := measure(web); err != nil {
		return r, fmt.Errorf("warm-up: %w", err)
	}
	oneRate, oneDurs, oneCost, err := measure(web[:1])
	if err != nil {
		return r, fmt.Errorf("one process: %w", err)
	}
	twoRate, twoDurs, twoCost, err := measure(web)
	if err != nil {
		return r, fmt.Errorf("two processes: %w", err)
	}
	perReq := func(c cost) []Figure {
		fs := []Figure{{"web CPU", ms(c.web), "ms/req"}, {"Temporal+clients CPU", ms(c.temporal), "ms/req"}}
		if c.postgres >= 0 {
			fs = append(fs, Figure{"PostgreSQL CPU", ms(c.postgres), "ms/req"})
		}
		return fs
	}
	r.Figures = append([]Figure{{"rate", twoRate, "req/s"}, {"p99", percentile(twoDurs, 99), "ms"}}, perReq(twoCost)...)
	r.BaselineFigures = append([]Figure{{"rate", oneRate, "req/s"}, {"p99", percentile(oneDurs, 99), "ms"}}, perReq(oneCost)...)
	r.Ratio, r.RatioMeans = twoRate/oneRate, "two processes' rate over one's"
	r.Met = r.Ratio >= 0.9
	return r, nil
}
