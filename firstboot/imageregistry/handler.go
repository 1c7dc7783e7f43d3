package imageregistry

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"time"
)

// Stats counts what a Layout's handlers answered.
type Stats struct {
	// Requests is every request.
	Requests uint64
	// Manifests and Blobs are the manifests (and indexes) and blobs
	// served, by GET or HEAD.
	Manifests, Blobs uint64
	// Errors is the requests answered with an error status.
	Errors uint64
	// Bytes is the content sent in GET answers.
	Bytes uint64
}

// Stats returns the counts so far.
func (l *Layout) Stats() Stats {
	c := &l.stats
	return Stats{Requests: c.requests.Load(), Manifests: c.manifests.Load(), Blobs: c.blobs.Load(),
		Errors: c.errors.Load(), Bytes: c.bytes.Load()}
}

// Handler returns the read-only OCI distribution API of the payload (see
// the package doc).
func (l *Layout) Handler() http.Handler { return http.HandlerFunc(l.serve) }

func (l *Layout) serve(w http.ResponseWriter, r *http.Request) {
	l.stats.requests.Add(1)
	w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		l.fail(w, http.StatusMethodNotAllowed, "UNSUPPORTED", "the image payload is read-only")
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/v2/")
	switch {
	case r.URL.Path == "/v2" || (ok && rest == ""):
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, "{}")
		return
	case !ok:
		l.fail(w, http.StatusNotFound, "UNSUPPORTED", "not an OCI distribution API path")
		return
	}
	if name, ref, ok := cutLast(rest, "/manifests/"); ok {
		l.serveManifest(w, r, name, ref)
		return
	}
	if _, dgst, ok := cutLast(rest, "/blobs/"); ok {
		if _, held := l.blobs[dgst]; !held {
			l.fail(w, http.StatusNotFound, "BLOB_UNKNOWN", "blob unknown to the image payload")
			return
		}
		l.stats.blobs.Add(1)
		l.serveContent(w, r, dgst, "application/octet-stream")
		return
	}
	l.fail(w, http.StatusNotFound, "UNSUPPORTED", "not an OCI distribution API path the image payload serves")
}

// serveManifest serves the manifest or index ref names: a digest, or a
// tag of name in the registry the request's ns parameter names.
func (l *Layout) serveManifest(w http.ResponseWriter, r *http.Request, name, ref string) {
	dgst := ref
	if !isDigest(ref) {
		key := imageKey{repository(name, r.URL.Query().Get("ns")), ref}
		d, ok := l.tags[key]
		if !ok {
			if !l.repos[key.repoKey] {
				l.fail(w, http.StatusNotFound, "NAME_UNKNOWN", "repository unknown to the image payload")
			} else {
				l.fail(w, http.StatusNotFound, "MANIFEST_UNKNOWN", "tag unknown to the image payload")
			}
			return
		}
		dgst = d
	}
	mt, ok := l.manifests[dgst]
	if !ok {
		l.fail(w, http.StatusNotFound, "MANIFEST_UNKNOWN", "manifest unknown to the image payload")
		return
	}
	l.stats.manifests.Add(1)
	l.serveContent(w, r, dgst, mt)
}

// repository is the registry and repository a request's name means: with
// ns (containerd through a mirror), ns and the name; without, the name's
// first component and the rest.
func repository(name, ns string) repoKey {
	if ns != "" {
		return repoKey{ns, name}
	}
	registry, repo, _ := strings.Cut(name, "/")
	return repoKey{registry, repo}
}

// serveContent serves blob dgst (held) as mediaType, with ranges,
// conditional requests and HEAD as http.ServeContent does them.
func (l *Layout) serveContent(w http.ResponseWriter, r *http.Request, dgst, mediaType string) {
	s := l.blobs[dgst]
	h := w.Header()
	h.Set("Content-Type", mediaType)
	h.Set("Docker-Content-Digest", dgst)
	h.Set("Etag", `"`+dgst+`"`)
	http.ServeContent(countingWriter{w, &l.stats}, r, "", time.Time{}, io.NewSectionReader(l.r, s.off, s.size))
}

// fail answers with an OCI error body (distribution-spec, "Error Codes").
func (l *Layout) fail(w http.ResponseWriter, status int, code, message string) {
	l.stats.errors.Add(1)
	body, _ := json.Marshal(map[string][]map[string]string{"errors": {{"code": code, "message": message}}})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(body)
}

// cutLast splits s around the last sep into a name and a reference that
// are not empty and a reference with no slash.
func cutLast(s, sep string) (name, ref string, ok bool) {
	i := strings.LastIndex(s, sep)
	if i <= 0 {
		return "", "", false
	}
	name, ref = s[:i], s[i+len(sep):]
	return name, ref, ref != "" && !strings.Contains(ref, "/")
}

// countingWriter counts the content bytes sent, and the errors
// http.ServeContent answers itself (a range that cannot be satisfied).
type countingWriter struct {
	http.ResponseWriter
	c *counters
}

func (w countingWriter) WriteHeader(status int) {
	if status >= 400 {
		w.c.errors.Add(1)
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w countingWriter) Write(p []byte) (int, error) {
	n, err := w.ResponseWriter.Write(p)
	w.c.bytes.Add(uint64(n))
	return n, err
}
