package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// adminClient is what the admin sub-commands (release, deadletters) share:
// the gateway's URL, the admin token, who is acting, and one HTTP call that
// turns a problem answer into an error.
type adminClient struct {
	name              string // the sub-command, prefixed to errors
	url, token, actor string
	jsonOut           bool
	client            *http.Client
	stdout, stderr    io.Writer
}

// parse registers the shared flags on fs, parses args[1:] (flags may come
// before and after the positional arguments) and returns the positional
// arguments; nil with a nil error after -h.
func (c *adminClient) parse(fs *flag.FlagSet, usage string, args []string, getenv func(string) string) ([]string, error) {
	c.client = &http.Client{Timeout: 60 * time.Second}
	fs.SetOutput(c.stderr)
	fs.Usage = func() {
		fmt.Fprint(c.stderr, usage)
		fs.PrintDefaults()
	}
	def := getenv("ERPGATE_URL")
	if def == "" {
		def = "http://127.0.0.1:8080"
	}
	fs.StringVar(&c.url, "url", def, "base URL of the gateway [ERPGATE_URL]")
	fs.StringVar(&c.token, "token", getenv("ERPGATE_ADMIN_TOKEN"), "admin token [ERPGATE_ADMIN_TOKEN] (default: the demo token demo-admin-token)")
	fs.StringVar(&c.actor, "actor", getenv("USER"), "who you are, recorded with the admin client's id [USER]")
	fs.BoolVar(&c.jsonOut, "json", false, "print the server's JSON instead of a summary")

	pos := []string{}
	rest := args[1:]
	for {
		if err := fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, nil
			}
			return nil, err
		}
		rest = fs.Args()
		if len(rest) == 0 {
			break
		}
		pos = append(pos, rest[0])
		rest = rest[1:]
	}
	if len(pos) == 0 {
		fs.Usage()
		return nil, errors.New(c.name + ": a command is required")
	}
	if err := c.connect(); err != nil {
		return nil, err
	}
	return pos, nil
}

// connect checks --url and fills in the demo token when none is given
// (with a warning), before the first call of the admin API.
func (c *adminClient) connect() error {
	if c.token == "" {
		c.token = "demo-admin-token"
		fmt.Fprintln(c.stderr, "warning: no --token or ERPGATE_ADMIN_TOKEN: using the demo admin token")
	}
	if _, err := url.ParseRequestURI(c.url); err != nil || !strings.HasPrefix(c.url, "http") {
		return fmt.Errorf("%s: --url %q is not an http(s) URL", c.name, c.url)
	}
	c.url = strings.TrimRight(c.url, "/")
	return nil
}

// command splits the positional arguments into a command of want (its name
// → how many arguments it takes) and its arguments.
func (c *adminClient) command(fs *flag.FlagSet, pos []string, want map[string]int) (string, []string, error) {
	cmd, args := pos[0], pos[1:]
	n, known := want[cmd]
	if !known {
		fs.Usage()
		return "", nil, fmt.Errorf("%s: unknown command %q", c.name, cmd)
	}
	if len(args) != n {
		return "", nil, fmt.Errorf("%s %s: got %d arguments, want %d", c.name, cmd, len(args), n)
	}
	return cmd, args, nil
}

// raw prints the server's JSON, indented.
func (c *adminClient) raw(b []byte) error {
	var buf bytes.Buffer
	if json.Indent(&buf, b, "", "  ") != nil {
		buf.Reset()
		buf.Write(b)
	}
	buf.WriteByte('\n')
	_, err := c.stdout.Write(buf.Bytes())
	return err
}

// do calls the admin API and decodes a 2xx answer into v. Any other answer
// becomes an error carrying the problem's detail and field problems.
func (c *adminClient) do(ctx context.Context, method, path string, body []byte, v any) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.url+path, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.actor != "" {
		req.Header.Set("Erpgate-Actor", c.actor)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s: %s %s: %w", c.name, method, c.url+path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return nil, fmt.Errorf("%s: reading the answer: %w", c.name, err)
	}
	if resp.StatusCode/100 != 2 {
		return nil, c.problemError(resp.StatusCode, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return nil, fmt.Errorf("%s: unexpected answer from %s: %w", c.name, c.url, err)
	}
	return b, nil
}

func (c *adminClient) problemError(status int, b []byte) error {
	var p struct {
		Title  string `json:"title"`
		Detail string `json:"detail"`
		Code   string `json:"code"`
		Errors []struct {
			Field   string `json:"field"`
			Message string `json:"message"`
		} `json:"errors"`
	}
	if json.Unmarshal(b, &p) != nil || p.Detail == "" {
		return fmt.Errorf("%s: the gateway answered %d %s", c.name, status, strings.TrimSpace(string(b[:min(len(b), 300)])))
	}
	msg := fmt.Sprintf("%s: %d %s: %s", c.name, status, p.Code, p.Detail)
	for _, e := range p.Errors {
		msg += fmt.Sprintf("\n  %s: %s", e.Field, e.Message)
	}
	return errors.New(msg)
}
