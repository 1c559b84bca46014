// Package zwave is DOOR OS's adapter to Z-Wave locks: it talks to a Z-Wave
// JS server (the WebSocket API of @zwave-js/server, as Z-Wave JS UI and the
// Home Assistant add-on serve it), writes the doorcodes of a door's key
// holders into the lock node's User Code slots, clears them as access
// ends, and brings the node's notifications and battery back. Rules stay
// in domain and store; nothing of Z-Wave leaves this package and the
// store's zwave tables.
package zwave

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"

	"github.com/coder/websocket"
)

// Command classes used.
const (
	CCDoorLock     = 98  // 0x62
	CCUserCode     = 99  // 0x63
	CCNotification = 113 // 0x71
	CCBattery      = 128 // 0x80
)

// Node statuses as Z-Wave JS reports them.
const (
	StatusUnknown = 0
	StatusAsleep  = 1
	StatusAwake   = 2
	StatusDead    = 3
	StatusAlive   = 4
)

// schemaVersion is the API schema DOOR OS speaks (the server answers with
// the range it supports; every command used here exists since long before).
const schemaVersion = 40

// Value is one value of a node.
type Value struct {
	CommandClass int             `json:"commandClass"`
	Endpoint     int             `json:"endpoint"`
	Property     any             `json:"property"`
	PropertyKey  any             `json:"propertyKey"`
	Value        json.RawMessage `json:"value"`
}

// Node is a node as the server lists it.
type Node struct {
	ID           int     `json:"nodeId"`
	Status       int     `json:"status"`
	Ready        bool    `json:"ready"`
	Label        string  `json:"label"`
	Manufacturer string  `json:"manufacturer"`
	IsListening  bool    `json:"isListening"`
	Values       []Value `json:"values"`
	Endpoints    []struct {
		CommandClasses []struct {
			ID int `json:"id"`
		} `json:"commandClasses"`
	} `json:"endpoints"`
}

// Supports reports whether the node's root endpoint has a command class.
func (n Node) Supports(cc int) bool {
	if len(n.Endpoints) == 0 {
		return false
	}
	for _, c := range n.Endpoints[0].CommandClasses { // root endpoint
		if c.ID == cc {
			return true
		}
	}
	return false
}

// Battery returns the node's battery level, if it reported one.
func (n Node) Battery() (int, bool) {
	for _, v := range n.Values {
		if v.CommandClass == CCBattery && v.Property == "level" {
			var lvl int
			if json.Unmarshal(v.Value, &lvl) == nil {
				return lvl, true
			}
		}
	}
	return 0, false
}

// Event is an event the server sends (node events carry NodeID).
type Event struct {
	Source string          `json:"source"`
	Event  string          `json:"event"`
	NodeID int             `json:"nodeId"`
	Args   json.RawMessage `json:"args"`
}

// Error is a command the server refused or that failed at the node.
type Error struct {
	Code      string `json:"errorCode"`
	ZWaveCode int    `json:"zwaveErrorCode"`
	Message   string `json:"zwaveErrorMessage"`
}

func (e *Error) Error() string {
	if e.Message != "" {
		return fmt.Sprintf("z-wave js: %s (%s %d)", e.Message, e.Code, e.ZWaveCode)
	}
	return "z-wave js: " + e.Code
}

type reply struct {
	Type      string          `json:"type"`
	MessageID string          `json:"messageId"`
	Success   bool            `json:"success"`
	Result    json.RawMessage `json:"result"`
	Event     *Event          `json:"event"`
	Error
	MaxSchema int `json:"maxSchemaVersion"`
	MinSchema int `json:"minSchemaVersion"`
}

// Client is one WebSocket connection to a Z-Wave JS server.
type Client struct {
	conn   *websocket.Conn
	events chan Event
	done   chan struct{}

	mu      sync.Mutex
	next    int
	pending map[string]chan reply
	err     error
	nodes   []Node
}

// ErrClosed is returned for commands on a closed connection.
var ErrClosed = errors.New("z-wave js: connection closed")

// Dial connects to a Z-Wave JS server, agrees on the API schema and starts
// listening: Nodes then lists the network, Events delivers what happens.
// token, when not empty, is sent as a bearer token.
func Dial(ctx context.Context, url, token string) (*Client, error) {
	var opts websocket.DialOptions
	if token != "" {
		opts.HTTPHeader = http.Header{"Authorization": {"Bearer " + token}}
	}
	conn, _, err := websocket.Dial(ctx, url, &opts)
	if err != nil {
		return nil, err
	}
	conn.SetReadLimit(64 << 20) // a network's full state can be large
	c := &Client{conn: conn, events: make(chan Event, 256), done: make(chan struct{}), pending: map[string]chan reply{}}
	var hello reply
	if err := c.read(ctx, &hello); err != nil {
		conn.CloseNow()
		return nil, err
	}
	if hello.Type != "version" {
		conn.CloseNow()
		return nil, fmt.Errorf("z-wave js: expected a version message, got %q", hello.Type)
	}
	schema := min(schemaVersion, hello.MaxSchema)
	if schema < hello.MinSchema {
		conn.CloseNow()
		return nil, fmt.Errorf("z-wave js: server needs API schema %d or newer", hello.MinSchema)
	}
	go c.readLoop()
	if _, err := c.Do(ctx, "set_api_schema", map[string]any{"schemaVersion": schema}); err != nil {
		c.Close()
		return nil, err
	}
	res, err := c.Do(ctx, "start_listening", nil)
	if err != nil {
		c.Close()
		return nil, err
	}
	var st struct {
		State struct {
			Nodes []Node `json:"nodes"`
		} `json:"state"`
	}
	if err := json.Unmarshal(res, &st); err != nil {
		c.Close()
		return nil, err
	}
	c.nodes = st.State.Nodes
	return c, nil
}

func (c *Client) read(ctx context.Context, v any) error {
	_, b, err := c.conn.Read(ctx)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

func (c *Client) readLoop() {
	defer close(c.events)
	for {
		var r reply
		err := c.read(context.Background(), &r)
		if err != nil {
			var syn *json.SyntaxError
			if errors.As(err, &syn) {
				continue
			}
			c.fail(err)
			return
		}
		switch r.Type {
		case "result":
			c.mu.Lock()
			ch := c.pending[r.MessageID]
			delete(c.pending, r.MessageID)
			c.mu.Unlock()
			if ch != nil {
				ch <- r
			}
		case "event":
			if r.Event != nil {
				select {
				case c.events <- *r.Event:
				case <-c.done:
					return
				}
			}
		}
	}
}

func (c *Client) fail(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return
	}
	c.err = err
	close(c.done)
	c.conn.CloseNow()
}

// Nodes lists the network as the server reported it on connecting.
func (c *Client) Nodes() []Node { return c.nodes }

// Events delivers the server's events until the connection ends.
func (c *Client) Events() <-chan Event { return c.events }

// Done is closed when the connection ends; Err says why.
func (c *Client) Done() <-chan struct{} { return c.done }

// Err is why the connection ended (nil while open).
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Close ends the connection.
func (c *Client) Close() {
	c.fail(ErrClosed)
}

// Do sends one command and waits for its result (a command to a sleeping
// node waits until the node wakes up, or ctx ends).
func (c *Client) Do(ctx context.Context, command string, args map[string]any) (json.RawMessage, error) {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return nil, fmt.Errorf("%w: %v", ErrClosed, c.err)
	}
	c.next++
	id := strconv.Itoa(c.next)
	ch := make(chan reply, 1)
	c.pending[id] = ch
	c.mu.Unlock()
	drop := func() {
		c.mu.Lock()
		delete(c.pending, id)
		c.mu.Unlock()
	}
	msg := map[string]any{"messageId": id, "command": command}
	for k, v := range args {
		msg[k] = v
	}
	b, err := json.Marshal(msg)
	if err != nil {
		drop()
		return nil, err
	}
	if err := c.conn.Write(ctx, websocket.MessageText, b); err != nil {
		drop()
		return nil, err
	}
	select {
	case r := <-ch:
		if !r.Success {
			e := r.Error
			return nil, &e
		}
		return r.Result, nil
	case <-c.done:
		drop()
		return nil, fmt.Errorf("%w: %v", ErrClosed, c.Err())
	case <-ctx.Done():
		drop()
		return nil, ctx.Err()
	}
}

// GetValue reads a value from the server's cache of the node (one round
// trip to the server, not to the node).
func (c *Client) GetValue(ctx context.Context, node, cc int, property any, propertyKey any) (json.RawMessage, error) {
	id := map[string]any{"commandClass": cc, "property": property}
	if propertyKey != nil {
		id["propertyKey"] = propertyKey
	}
	res, err := c.Do(ctx, "node.get_value", map[string]any{"nodeId": node, "valueId": id})
	if err != nil {
		return nil, err
	}
	var v struct {
		Value json.RawMessage `json:"value"`
	}
	err = json.Unmarshal(res, &v)
	return v.Value, err
}

// invoke calls a command class API method on the node's root endpoint.
func (c *Client) invoke(ctx context.Context, node, cc int, method string, args ...any) (json.RawMessage, error) {
	if args == nil {
		args = []any{}
	}
	return c.Do(ctx, "endpoint.invoke_cc_api", map[string]any{"nodeId": node, "endpoint": 0, "commandClass": cc, "methodName": method, "args": args})
}

// UserCodeSlots returns how many User Code slots the node has, asking the
// node (User Code Users Number Get).
func (c *Client) UserCodeSlots(ctx context.Context, node int) (int, error) {
	res, err := c.invoke(ctx, node, CCUserCode, "getUsersCount")
	if err != nil {
		return 0, err
	}
	var r struct {
		Response *int `json:"response"`
	}
	if err := json.Unmarshal(res, &r); err != nil {
		return 0, err
	}
	if r.Response == nil {
		return 0, fmt.Errorf("z-wave js: node %d did not report its user code slots", node)
	}
	return *r.Response, nil
}

// UserCodeOccupied reports whether a slot holds a code (User Code Get:
// its status is neither available nor "not available").
func (c *Client) UserCodeOccupied(ctx context.Context, node, slot int) (bool, error) {
	res, err := c.invoke(ctx, node, CCUserCode, "get", slot)
	if err != nil {
		return false, err
	}
	var r struct {
		Response *struct {
			Status int `json:"userIdStatus"`
		} `json:"response"`
	}
	if err := json.Unmarshal(res, &r); err != nil {
		return false, err
	}
	if r.Response == nil {
		return false, fmt.Errorf("z-wave js: node %d did not report user code slot %d", node, slot)
	}
	return r.Response.Status != 0 && r.Response.Status != 0xfe, nil // 0 available, 0xfe status not available
}

// SetUserCode writes an enabled code into a slot; the result arrives once
// the node acknowledged it.
func (c *Client) SetUserCode(ctx context.Context, node, slot int, code string) error {
	_, err := c.invoke(ctx, node, CCUserCode, "set", slot, 1, code) // 1: enabled (occupied)
	return err
}

// ClearUserCode makes a slot available (its code no longer opens).
func (c *Client) ClearUserCode(ctx context.Context, node, slot int) error {
	_, err := c.invoke(ctx, node, CCUserCode, "clear", slot)
	return err
}

// SetLocked locks (secured) or unlocks (unsecured) the door now.
func (c *Client) SetLocked(ctx context.Context, node int, locked bool) error {
	mode := 0 // Unsecured
	if locked {
		mode = 255 // Secured
	}
	_, err := c.invoke(ctx, node, CCDoorLock, "set", mode)
	return err
}

// ListNodes connects to a gateway, returns its nodes and disconnects.
func ListNodes(ctx context.Context, url, token string) ([]Node, error) {
	c, err := Dial(ctx, url, token)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return c.Nodes(), nil
}
