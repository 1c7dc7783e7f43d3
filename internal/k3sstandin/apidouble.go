package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// apiOptions say what API double to start.
type apiOptions struct {
	// Root is the host root the kubeconfig is written under ("/").
	Root string
	// Role is "server" or "agent".
	Role string
	// NodeName is the one Node the double knows.
	NodeName string
	// Version is the kubelet version the Node reports.
	Version string
	// Addr is the listen address; "" takes the role's (serverAPIAddr,
	// agentAPIAddr).
	Addr string
	// KubeconfigMode is the admin kubeconfig's mode (a server's).
	KubeconfigMode os.FileMode
}

// apiDouble is the running double of K3s's API server.
type apiDouble struct {
	URL, Kubeconfig string
	srv             *http.Server
}

// startAPIDouble starts the API double: a TEST DOUBLE of K3s's API server
// for this node only. Over HTTPS with a CA of its own and a client
// certificate required, it answers GET /api/v1/nodes/<node> with a Node
// whose Ready condition is True, and everything else with kube-apiserver's
// 404 Status, so a client sees a missing object, not an odd server (the
// platform bring-up, which asks /version first, keeps waiting for the API
// as it did before the double served one). It writes the role's
// kubeconfig naming it, as K3s does (kubeconfig.go).
func startAPIDouble(opts apiOptions) (*apiDouble, error) {
	addr := opts.Addr
	if addr == "" {
		addr = agentAPIAddr
		if opts.Role == "server" {
			addr = serverAPIAddr
		}
	}
	user, group := "system:node:"+opts.NodeName, "system:nodes"
	if opts.Role == "server" {
		user, group = "system:admin", "system:masters"
	}
	p, err := newPKI(user, group)
	if err != nil {
		return nil, err
	}
	tlsConfig, err := p.serverTLS()
	if err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	d := &apiDouble{URL: "https://" + l.Addr().String()}
	if d.Kubeconfig, err = writeKubeconfig(opts.Root, opts.Role, d.URL, p, opts.KubeconfigMode); err != nil {
		l.Close()
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	d.srv = &http.Server{
		Handler:           nodeHandler{node: opts.NodeName, version: opts.Version},
		TLSConfig:         tlsConfig,
		ReadHeaderTimeout: 10 * time.Second,
	}
	go d.srv.ServeTLS(l, "", "")
	return d, nil
}

// Close stops the double.
func (d *apiDouble) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := d.srv.Shutdown(ctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// nodeHandler serves the one Node.
type nodeHandler struct{ node, version string }

// The JSON of a core/v1 Node and a meta/v1 Status, the fields a client
// reads (k8s.io/api core/v1 types.go, apimachinery meta/v1 types.go).
type (
	objectMeta struct {
		Name   string            `json:"name,omitempty"`
		Labels map[string]string `json:"labels,omitempty"`
	}
	nodeCondition struct {
		Type    string `json:"type"`
		Status  string `json:"status"`
		Reason  string `json:"reason"`
		Message string `json:"message"`
	}
	node struct {
		Kind       string     `json:"kind"`
		APIVersion string     `json:"apiVersion"`
		Metadata   objectMeta `json:"metadata"`
		Status     struct {
			Conditions []nodeCondition `json:"conditions"`
			NodeInfo   struct {
				KubeletVersion string `json:"kubeletVersion"`
			} `json:"nodeInfo"`
		} `json:"status"`
	}
	status struct {
		Kind       string     `json:"kind"`
		APIVersion string     `json:"apiVersion"`
		Metadata   objectMeta `json:"metadata"`
		Status     string     `json:"status"`
		Message    string     `json:"message"`
		Reason     string     `json:"reason"`
		Details    *struct {
			Name string `json:"name"`
			Kind string `json:"kind"`
		} `json:"details,omitempty"`
		Code int `json:"code"`
	}
)

func (h nodeHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name, isNode := strings.CutPrefix(r.URL.Path, "/api/v1/nodes/")
	switch {
	case r.Method != http.MethodGet:
		writeStatus(w, http.StatusMethodNotAllowed, "MethodNotAllowed", "the server does not allow this method on the requested resource", "")
	case !isNode || name == "" || strings.Contains(name, "/"):
		writeStatus(w, http.StatusNotFound, "NotFound", "the server could not find the requested resource", "")
	case name != h.node:
		writeStatus(w, http.StatusNotFound, "NotFound", "nodes "+strconv.Quote(name)+" not found", name)
	default:
		var n node
		n.Kind, n.APIVersion = "Node", "v1"
		n.Metadata = objectMeta{Name: h.node, Labels: map[string]string{"kubernetes.io/hostname": h.node}}
		n.Status.Conditions = []nodeCondition{{Type: "Ready", Status: "True", Reason: "KubeletReady",
			Message: "k3s-standin: test double (not K3s): no kubelet runs; Ready so the upgrade check can pass"}}
		n.Status.NodeInfo.KubeletVersion = h.version
		writeJSON(w, http.StatusOK, n)
	}
}

func writeStatus(w http.ResponseWriter, code int, reason, message, name string) {
	s := status{Kind: "Status", APIVersion: "v1", Status: "Failure", Message: message, Reason: reason, Code: code}
	if name != "" {
		s.Details = &struct {
			Name string `json:"name"`
			Kind string `json:"kind"`
		}{Name: name, Kind: "nodes"}
	}
	writeJSON(w, code, s)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	w.Write(data)
}
