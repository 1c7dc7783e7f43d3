package bringup

import (
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func podTemplate(app string) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": app}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: app, Image: "example/" + app + ":test"}}},
	}
}

func selector(app string) *metav1.LabelSelector {
	return &metav1.LabelSelector{MatchLabels: map[string]string{"app": app}}
}

// deployment creates a Deployment as Helm would; its status is empty.
func (c *cluster) deployment(namespace, name string, replicas int32) *appsv1.Deployment {
	c.t.Helper()
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace},
		Spec:       appsv1.DeploymentSpec{Replicas: &replicas, Selector: selector(name), Template: podTemplate(name)},
	}
	d, err := c.core.AppsV1().Deployments(namespace).Create(c.ctx, d, metav1.CreateOptions{})
	c.check("create deployment "+name, err)
	return d
}

// deploymentStatus sets the status the deployment controller would, with
// available of the replicas available.
func (c *cluster) deploymentStatus(d *appsv1.Deployment, available int32) {
	c.t.Helper()
	n := *d.Spec.Replicas
	d, err := c.core.AppsV1().Deployments(d.Namespace).Get(c.ctx, d.Name, metav1.GetOptions{})
	c.check("get deployment", err)
	d.Status = appsv1.DeploymentStatus{
		ObservedGeneration: d.Generation, Replicas: n, UpdatedReplicas: n,
		ReadyReplicas: available, AvailableReplicas: available, UnavailableReplicas: n - available,
	}
	_, err = c.core.AppsV1().Deployments(d.Namespace).UpdateStatus(c.ctx, d, metav1.UpdateOptions{})
	c.check("update deployment status "+d.Name, err)
}

func (c *cluster) statefulSet(namespace, name string, replicas int32) *appsv1.StatefulSet {
	c.t.Helper()
	s := &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace},
		Spec:       appsv1.StatefulSetSpec{Replicas: &replicas, Selector: selector(name), Template: podTemplate(name), ServiceName: name},
	}
	s, err := c.core.AppsV1().StatefulSets(namespace).Create(c.ctx, s, metav1.CreateOptions{})
	c.check("create statefulset "+name, err)
	return s
}

// statefulSetStatus sets the status the statefulset controller would, with
// ready of the replicas ready and all updated.
func (c *cluster) statefulSetStatus(s *appsv1.StatefulSet, ready int32) {
	c.t.Helper()
	n := *s.Spec.Replicas
	s, err := c.core.AppsV1().StatefulSets(s.Namespace).Get(c.ctx, s.Name, metav1.GetOptions{})
	c.check("get statefulset", err)
	s.Status = appsv1.StatefulSetStatus{
		ObservedGeneration: s.Generation, Replicas: n, ReadyReplicas: ready, AvailableReplicas: ready,
		CurrentReplicas: n, UpdatedReplicas: n, CurrentRevision: s.Name + "-1", UpdateRevision: s.Name + "-1",
	}
	_, err = c.core.AppsV1().StatefulSets(s.Namespace).UpdateStatus(c.ctx, s, metav1.UpdateOptions{})
	c.check("update statefulset status "+s.Name, err)
}

func (c *cluster) daemonSet(namespace, name string) *appsv1.DaemonSet {
	c.t.Helper()
	d := &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace},
		Spec:       appsv1.DaemonSetSpec{Selector: selector(name), Template: podTemplate(name)},
	}
	d, err := c.core.AppsV1().DaemonSets(namespace).Create(c.ctx, d, metav1.CreateOptions{})
	c.check("create daemonset "+name, err)
	return d
}

// daemonSetStatus sets the status the daemonset controller would on
// desired nodes, available of them with an available pod.
func (c *cluster) daemonSetStatus(d *appsv1.DaemonSet, desired, available int32) {
	c.t.Helper()
	d, err := c.core.AppsV1().DaemonSets(d.Namespace).Get(c.ctx, d.Name, metav1.GetOptions{})
	c.check("get daemonset", err)
	d.Status = appsv1.DaemonSetStatus{
		ObservedGeneration: d.Generation, CurrentNumberScheduled: desired, DesiredNumberScheduled: desired,
		NumberReady: available, NumberAvailable: available, NumberUnavailable: desired - available,
		UpdatedNumberScheduled: desired,
	}
	_, err = c.core.AppsV1().DaemonSets(d.Namespace).UpdateStatus(c.ctx, d, metav1.UpdateOptions{})
	c.check("update daemonset status "+d.Name, err)
}

// service creates a Service of the given type with one port; the API
// server allocates its node port.
func (c *cluster) service(namespace, name string, typ corev1.ServiceType, port int32) *corev1.Service {
	c.t.Helper()
	s := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace},
		Spec: corev1.ServiceSpec{
			Type: typ, Selector: map[string]string{"app": name},
			Ports: []corev1.ServicePort{{Name: "web", Port: port}},
		},
	}
	s, err := c.core.CoreV1().Services(namespace).Create(c.ctx, s, metav1.CreateOptions{})
	c.check("create service "+name, err)
	return s
}

// loadBalancerIngress sets the ingress address K3s's servicelb would.
func (c *cluster) loadBalancerIngress(s *corev1.Service, ip string) {
	c.t.Helper()
	s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: ip, IPMode: new(corev1.LoadBalancerIPModeVIP)}}
	_, err := c.core.CoreV1().Services(s.Namespace).UpdateStatus(c.ctx, s, metav1.UpdateOptions{})
	c.check("update service status "+s.Name, err)
}
