package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// apiClient talks to whichever web server is up, as a load balancer
// would: a request that finds no one answering is tried on another.
type apiClient struct {
	webs  []*proc
	token string
}

var httpClient = &http.Client{Timeout: 20 * time.Second}

// errNoAnswer is a call no web server answered: the request may or may
// not have been carried out.
var errNoAnswer = errors.New("no web server answered")

// once makes one call on one live web server. officer adds the API
// token; form sends url.Values as a form.
func (c *apiClient) once(ctx context.Context, method, path string, officer bool, body any, out any) (int, []byte, error) {
	var live []*proc
	for _, w := range c.webs {
		if w.running() {
			live = append(live, w)
		}
	}
	if len(live) == 0 {
		return 0, nil, errNoAnswer
	}
	w := live[mrand.IntN(len(live))]
	var rd io.Reader
	ctype := ""
	switch b := body.(type) {
	case nil:
	case url.Values:
		rd, ctype = strings.NewReader(b.Encode()), "application/x-www-form-urlencoded"
	default:
		j, err := json.Marshal(b)
		if err != nil {
			return 0, nil, err
		}
		rd, ctype = bytes.NewReader(j), "application/json"
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://"+w.addr+path, rd)
	if err != nil {
		return 0, nil, err
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if officer {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("%w: %s %s on %s: %v", errNoAnswer, method, path, w.name, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, nil, fmt.Errorf("%w: %s %s: reading the answer: %v", errNoAnswer, method, path, err)
	}
	if out != nil && len(b) > 0 && strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(b, out); err != nil {
			return resp.StatusCode, b, fmt.Errorf("%s %s: %d %.200s", method, path, resp.StatusCode, b)
		}
	}
	return resp.StatusCode, b, nil
}

// call repeats an idempotent call until a web server answers with a
// status below 500, or ctx ends.
func (c *apiClient) call(ctx context.Context, method, path string, officer bool, body any, out any) (int, []byte, error) {
	for {
		code, b, err := c.once(ctx, method, path, officer, body, out)
		if err == nil && code < 500 {
			return code, b, nil
		}
		select {
		case <-ctx.Done():
			if err == nil {
				err = fmt.Errorf("%s %s answered %d: %.200s", method, path, code, b)
			}
			return code, b, fmt.Errorf("%w (last: %v)", ctx.Err(), err)
		case <-time.After(300 * time.Millisecond):
		}
	}
}
