package chaos

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// proc is one process of the topology: started, killed and started
// again by the driver, its output appended to one log file across all
// its lives.
type proc struct {
	name string
	args []string
	env  []string
	log  string
	// addr is where it answers /readyz ("" for the Temporal server,
	// which is checked by dialling its frontend port).
	addr string
	// tcp is the port it listens on, dialled when addr is empty.
	tcp string

	// recovering is set from a kill until the process is ready again:
	// a second fault does not pick it meanwhile, so each fault's recovery
	// is its own.
	recovering atomic.Bool

	mu    sync.Mutex
	cmd   *exec.Cmd
	done  chan struct{}
	lives int
}

// start starts the process (again).
func (p *proc) start(exe []string, baseEnv []string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	f, err := os.OpenFile(p.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	p.lives++
	fmt.Fprintf(f, "\n=== chaos: start %s (life %d) at %s\n", p.name, p.lives, time.Now().UTC().Format(time.RFC3339Nano))
	cmd := exec.Command(exe[0], append(append([]string(nil), exe[1:]...), p.args...)...)
	cmd.Env = append(append(append([]string(nil), baseEnv...), p.env...), "DSAR_CHAOS_PROCESS="+p.name)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Stdin = nil
	// Its own process group: a terminal's ^C reaches the driver, which
	// stops everything in order.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		f.Close()
		return fmt.Errorf("start %s: %w", p.name, err)
	}
	done := make(chan struct{})
	go func() {
		err := cmd.Wait()
		fmt.Fprintf(f, "=== chaos: %s exited at %s: %v\n", p.name, time.Now().UTC().Format(time.RFC3339Nano), err)
		f.Close()
		close(done)
	}()
	p.cmd, p.done = cmd, done
	return nil
}

// running reports whether the process is alive.
func (p *proc) running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done == nil {
		return false
	}
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *proc) kill() {
	p.signal(syscall.SIGKILL, 0)
}

// stop asks the process to stop (SIGTERM), and kills it after grace.
func (p *proc) stop(grace time.Duration) {
	p.signal(syscall.SIGTERM, grace)
}

func (p *proc) signal(sig syscall.Signal, grace time.Duration) {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	select {
	case <-done:
		return
	default:
	}
	_ = cmd.Process.Signal(sig)
	if grace > 0 {
		select {
		case <-done:
			return
		case <-time.After(grace):
			_ = cmd.Process.Kill()
		}
	}
	<-done
}

// ready waits until the process answers: /readyz with 200, or its TCP
// port accepting. It fails at once when the process has exited.
func (p *proc) ready(ctx context.Context, within time.Duration) error {
	deadline := time.Now().Add(within)
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		if !p.running() {
			return fmt.Errorf("%s exited while starting; see %s", p.name, p.log)
		}
		if p.addr != "" {
			if resp, err := client.Get("http://" + p.addr + "/readyz"); err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return nil
				}
			}
		} else if c, err := net.DialTimeout("tcp", p.tcp, time.Second); err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready within %s; see %s", p.name, within, p.log)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// runOnce runs a short-lived command (migrate, seed, officer add) to its
// end, its output in the log file, and returns its stdout.
func runOnce(ctx context.Context, exe, env []string, log, stdin string, args ...string) (string, error) {
	f, err := os.OpenFile(log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return "", err
	}
	defer f.Close()
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe[0], append(append([]string(nil), exe[1:]...), args...)...)
	cmd.Env = env
	cmd.Stderr = f
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.Output()
	f.Write(out)
	if err != nil {
		return "", fmt.Errorf("dsar %s: %w; see %s", strings.Join(args, " "), err, log)
	}
	return string(out), nil
}

// freeAddr is a free 127.0.0.1 port, as host:port.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func logPath(dir, name string) string { return filepath.Join(dir, name+".log") }
