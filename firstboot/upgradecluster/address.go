package upgradecluster

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// BundleURL is the URL the other nodes fetch site's bundle manifest at
// from the node named server: its first InternalIP address (the address
// K3s registers it with, which the other nodes reach it at), BundlePort
// and BundleURLPath.
func BundleURL(ctx context.Context, client kubernetes.Interface, server, site string) (string, error) {
	n, err := client.CoreV1().Nodes().Get(ctx, server, metav1.GetOptions{})
	if err != nil {
		return "", fmt.Errorf("bundle URL: read node %s: %w", server, err)
	}
	for _, a := range n.Status.Addresses {
		if a.Type != corev1.NodeInternalIP {
			continue
		}
		ip, err := netip.ParseAddr(a.Address)
		if err != nil || ip.Zone() != "" {
			return "", fmt.Errorf("bundle URL: node %s: InternalIP %q: not an IP address without a zone", server, a.Address)
		}
		return "http://" + net.JoinHostPort(ip.String(), strconv.Itoa(BundlePort)) + BundleURLPath(site), nil
	}
	return "", fmt.Errorf("bundle URL: node %s has no InternalIP address", server)
}
