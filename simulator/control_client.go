package simulator

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/tesseracard/tessera/firmware/piv"
)

// maxResponseBody bounds a control API answer read by the client.
const maxResponseBody = 4 << 20

// APIError is an error answered by the control API.
type APIError struct {
	Status  int    // HTTP status, 4xx or 5xx
	Message string // the API's explanation
}

func (e *APIError) Error() string { return e.Message }

// Client talks to a simulator's control API.
type Client struct {
	hc    *http.Client
	base  string
	token string // sent as a bearer token when not empty
}

// A ClientOption configures a [Client].
type ClientOption func(*Client)

// WithToken makes the client send token as a bearer token
// (Authorization: Bearer), which the control API requires over TCP: the
// token the simulator wrote to its token file ([ReadControlToken]).
func WithToken(token string) ClientOption {
	return func(c *Client) { c.token = token }
}

// NewClient returns a client for the control API on the unix socket at
// socketPath, or, when tcpAddr is not empty, at that TCP address, where it
// needs [WithToken]. Without it every request over TCP fails with an
// [APIError] of status 401.
func NewClient(socketPath, tcpAddr string, opts ...ClientOption) *Client {
	tr := &http.Transport{MaxIdleConns: 2, IdleConnTimeout: 30 * time.Second} // no Proxy: the token never leaves the machine
	base := "http://tessera"
	if tcpAddr != "" {
		base = "http://" + tcpAddr
	} else {
		tr.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			c, err := d.DialContext(ctx, "unix", socketPath)
			if err != nil {
				return nil, fmt.Errorf("no simulator answers on %s (is `tessera sim` running with this state directory?): %w", socketPath, err)
			}
			return c, nil
		}
	}
	c := &Client{hc: &http.Client{Transport: tr}, base: base}
	for _, o := range opts {
		o(c)
	}
	return c
}

// do sends a request and decodes the answer into out (unless nil).
func (c *Client) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return err
	}
	if body != nil || method != http.MethodGet {
		// The API wants it on every request that may change something.
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody))
	if err != nil {
		return fmt.Errorf("reading the control API's answer: %w", err)
	}
	if resp.StatusCode >= 400 {
		var eb errorBody
		if json.Unmarshal(data, &eb) != nil || eb.Error == "" {
			eb.Error = fmt.Sprintf("%s: %s", resp.Status, bytes.TrimSpace(data))
		}
		return &APIError{Status: resp.StatusCode, Message: eb.Error}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("decoding the control API's answer: %w", err)
	}
	return nil
}

func cardPath(id int, op string) string {
	p := "/v1/cards/" + strconv.Itoa(id)
	if op != "" {
		p += "/" + op
	}
	return p
}

// List returns the cards.
func (c *Client) List(ctx context.Context) ([]CardInfo, error) {
	var out []CardInfo
	return out, c.do(ctx, http.MethodGet, "/v1/cards", nil, &out)
}

// Add adds a card.
func (c *Client) Add(ctx context.Context, req AddRequest) (CardInfo, error) {
	var out CardInfo
	return out, c.do(ctx, http.MethodPost, "/v1/cards", req, &out)
}

// Card returns one card's place and condition.
func (c *Client) Card(ctx context.Context, id int) (CardInfo, error) {
	var out CardInfo
	return out, c.do(ctx, http.MethodGet, cardPath(id, ""), nil, &out)
}

// Delete takes a card out of the simulator; wipe removes its state too.
func (c *Client) Delete(ctx context.Context, id int, wipe bool) error {
	return c.do(ctx, http.MethodDelete, cardPath(id, "")+"?wipe="+url.QueryEscape(strconv.FormatBool(wipe)), nil, nil)
}

func (c *Client) op(ctx context.Context, id int, op string) (CardInfo, error) {
	var out CardInfo
	return out, c.do(ctx, http.MethodPost, cardPath(id, op), nil, &out)
}

// Insert puts a card in its reader.
func (c *Client) Insert(ctx context.Context, id int) (CardInfo, error) {
	return c.op(ctx, id, "insert")
}

// Remove pulls a card out of its reader.
func (c *Client) Remove(ctx context.Context, id int) (CardInfo, error) {
	return c.op(ctx, id, "remove")
}

// PowerCycle cuts a card's power and gives it back.
func (c *Client) PowerCycle(ctx context.Context, id int) (CardInfo, error) {
	return c.op(ctx, id, "power-cycle")
}

// ArmTear plans a power cut after k more writes; k < 0 disarms.
func (c *Client) ArmTear(ctx context.Context, id, k int) (CardInfo, error) {
	var out CardInfo
	if k < 0 {
		return out, c.do(ctx, http.MethodDelete, cardPath(id, "tear"), nil, &out)
	}
	return out, c.do(ctx, http.MethodPost, cardPath(id, "tear"), TearRequest{After: &k}, &out)
}

// Touch touches a card's sensor.
func (c *Client) Touch(ctx context.Context, id int) (TouchResult, error) {
	var out TouchResult
	return out, c.do(ctx, http.MethodPost, cardPath(id, "touch"), nil, &out)
}

// SetTouchMode sets a card's touch mode.
func (c *Client) SetTouchMode(ctx context.Context, id int, mode TouchMode) (CardInfo, error) {
	var out CardInfo
	return out, c.do(ctx, http.MethodPut, cardPath(id, "touch-mode"), TouchModeRequest{Mode: string(mode)}, &out)
}

// State reads a card's state.
func (c *Client) State(ctx context.Context, id int) (CardState, error) {
	var out CardState
	return out, c.do(ctx, http.MethodGet, cardPath(id, "state"), nil, &out)
}

// FactoryReset wipes a card back to its profile's factory state.
func (c *Client) FactoryReset(ctx context.Context, id int) (CardInfo, error) {
	var out CardInfo
	return out, c.do(ctx, http.MethodPost, cardPath(id, "factory-reset"), FactoryResetRequest{Wipe: true}, &out)
}

// RevealCredentials returns, once, the random PIN and PUK a card was issued
// with (profiles transport-pin-token and pin-puk-envelope); a second call
// fails with status 409.
func (c *Client) RevealCredentials(ctx context.Context, id int) (piv.Issued, error) {
	var out piv.Issued
	return out, c.do(ctx, http.MethodPost, cardPath(id, "reveal-credentials"), nil, &out)
}

// EnrolTOTP (re-)enrols a cloud-signature card's TOTP authorisation and
// returns the otpauth:// URI of the new seed.
func (c *Client) EnrolTOTP(ctx context.Context, id int) (TOTPEnrolment, error) {
	var out TOTPEnrolment
	return out, c.do(ctx, http.MethodPost, cardPath(id, "totp-enrol"), nil, &out)
}

// Transmit sends a command APDU (hex) to a card in process and returns the
// response.
func (c *Client) Transmit(ctx context.Context, id int, apduHex string) (TransmitResult, error) {
	var out TransmitResult
	return out, c.do(ctx, http.MethodPost, cardPath(id, "transmit"), TransmitRequest{APDU: apduHex}, &out)
}
