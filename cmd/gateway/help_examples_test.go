package main

import (
	"html"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// TestManualExamplesWork runs every curl example of the user manual, in
// both languages, against the demo gateway, with the placeholders filled
// in from a real order, and wants a 2xx answer from each: the manual
// promises that its examples work.
func TestManualExamplesWork(t *testing.T) {
	gw, _, _ := startRun(t)
	resp, b := post(t, gw+"/v1/orders", "demo-shop-key", orderBody("WEB-MANUAL-1"))
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST /v1/orders: %d %v", resp.StatusCode, b)
	}
	fill := strings.NewReplacer("ORDER_ID", b["id"].(string), "BESTELL_ID", b["id"].(string),
		"TRACKING_TOKEN", b["tracking"].(map[string]any)["token"].(string))
	code := regexp.MustCompile(`(?s)<code>(curl .*?)</code>`)
	ran := 0
	for _, lang := range []string{"en", "de"} {
		r, err := http.Get(gw + "/help?lang=" + lang)
		if err != nil {
			t.Fatal(err)
		}
		page, _ := io.ReadAll(r.Body)
		r.Body.Close()
		for _, m := range code.FindAllStringSubmatch(string(page), -1) {
			cmd := fill.Replace(html.UnescapeString(m[1]))
			req, err := curlRequest(cmd)
			if err != nil {
				t.Errorf("%s: %v\n%s", lang, err, cmd)
				continue
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode/100 != 2 {
				t.Errorf("%s manual: %s answered %d %s", lang, cmd, resp.StatusCode, body)
			}
			ran++
		}
	}
	if ran < 12 {
		t.Errorf("ran %d examples, want the manual's 6+ per language", ran)
	}
}

// curlRequest turns the curl command lines the manual shows (options -s, -i,
// -X, -H, -d; single quotes; backslash line continuations) into a request.
func curlRequest(cmd string) (*http.Request, error) {
	var args []string
	var cur strings.Builder
	inQuote, have := false, false
	cmd = strings.ReplaceAll(cmd, "\\\n", " ")
	for _, r := range cmd {
		switch {
		case r == '\'':
			inQuote, have = !inQuote, true
		case !inQuote && (r == ' ' || r == '\n' || r == '\t'):
			if have {
				args = append(args, cur.String())
				cur.Reset()
				have = false
			}
		default:
			cur.WriteRune(r)
			have = true
		}
	}
	if have {
		args = append(args, cur.String())
	}
	method, url, body := "", "", ""
	var hdr [][2]string
	for i := 1; i < len(args); i++ {
		switch a := args[i]; a {
		case "-s", "-i", "-si":
		case "-X":
			i++
			method = args[i]
		case "-H":
			i++
			k, v, _ := strings.Cut(args[i], ":")
			hdr = append(hdr, [2]string{k, strings.TrimSpace(v)})
		case "-d":
			i++
			body = args[i]
		default:
			url = a
		}
	}
	if method == "" {
		method = http.MethodGet
		if body != "" {
			method = http.MethodPost
		}
	}
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	for _, h := range hdr {
		req.Header.Set(h[0], h[1])
	}
	return req, nil
}
