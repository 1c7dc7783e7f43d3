package bringup

import (
	"cmp"
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/ml-appliance/appliance/firstboot/payload"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// endpoints says where each of the component's endpoints is reached, in
// order: "name: URL", or "name: " + how to reach it, or why that is
// unknown. A name is left out when the endpoint has none.
func (w *watcher) endpoints(ctx context.Context) []string {
	ctx, cancel := context.WithTimeout(ctx, diagnosticsTimeout)
	defer cancel()
	var out []string
	for _, e := range w.component.Endpoints {
		where, err := w.endpoint(ctx, e)
		if err != nil {
			where = err.Error()
		}
		if e.Name != "" {
			where = e.Name + ": " + where
		}
		out = append(out, where)
	}
	return out
}

// endpoint is the URL of one endpoint: the LoadBalancer's ingress address,
// else the node's address and the NodePort, else (a ClusterIP Service) the
// kubectl port-forward command that reaches it.
func (w *watcher) endpoint(ctx context.Context, e payload.Endpoint) (string, error) {
	ns := w.component.Namespace
	svc, err := w.core.CoreV1().Services(ns).Get(ctx, e.Service, metav1.GetOptions{})
	if err != nil {
		return "", fmt.Errorf("service %s/%s: %w", ns, e.Service, err)
	}
	var port *corev1.ServicePort
	for i, p := range svc.Spec.Ports {
		if int(p.Port) == e.Port {
			port = &svc.Spec.Ports[i]
		}
	}
	if port == nil {
		return "", fmt.Errorf("service %s/%s has no port %d", ns, e.Service, e.Port)
	}
	if svc.Spec.Type == corev1.ServiceTypeLoadBalancer {
		for _, in := range svc.Status.LoadBalancer.Ingress {
			if host := cmp.Or(in.IP, in.Hostname); host != "" {
				return endpointURL(e, host, e.Port), nil
			}
		}
	}
	if port.NodePort != 0 && (svc.Spec.Type == corev1.ServiceTypeNodePort || svc.Spec.Type == corev1.ServiceTypeLoadBalancer) {
		if w.nodeAddress == "" {
			return fmt.Sprintf("node port %d on any node", port.NodePort), nil
		}
		return endpointURL(e, w.nodeAddress, int(port.NodePort)), nil
	}
	return fmt.Sprintf("kubectl -n %s port-forward svc/%s %d", ns, e.Service, e.Port), nil
}

func endpointURL(e payload.Endpoint, host string, port int) string {
	scheme := cmp.Or(e.Scheme, "http")
	path := e.Path
	if path != "" && !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	return scheme + "://" + net.JoinHostPort(host, strconv.Itoa(port)) + path
}
