// Package manifests reads the site's own plain Kubernetes manifests
// (`manifests:` in site.yaml: files or directories of Kubernetes YAML or
// JSON), checks them the way K3s's deploy controller will read them, finds
// the images they start, and says what the build places into the OS image
// for firstboot to copy into K3s's server manifests directory.
//
//	set, err := manifests.Read([]string{"site/manifests/monitor.yaml", "site/manifests/extra"})
//	for _, f := range set.Files() { ... f.Name, f.Data ... }  // what to place
//	set.Names()   // the K3s Addon names the site's files take
//	set.Images()  // every image, with where it is
//
// # What K3s does with a manifest
//
// The deploy controller (k3s-io/k3s pkg/deploy/controller.go; read at
// commit 0301210fa15f, the one the code index holds, and at 43bde46d3fdd of
// 2020: these behaviours are the same in both, so in v1.36 too):
//
//   - listFilesIn/walkFiles walk its manifests directory recursively and
//     apply, in sorted path order, every file whose name ends in .yaml,
//     .yml or .json, in any case (shouldSkipFile, util.HasSuffixI); a name
//     starting with "." is skipped, and so is NAME when NAME.skip exists
//     (matched by file name anywhere in the tree).
//   - deploy names the file's Addon (a k3s.cattle.io object in
//     kube-system) by basename: the file name up to its first dot, so
//     a/x.yaml, b/x.yml and x.v2.json are one Addon, "x". It reads the
//     whole file with os.ReadFile (no bound) and parses it whatever its
//     extension (objectSet): a JSON file is read as YAML.
//   - yamlToObjects splits the file with apimachinery's YAMLReader (a line
//     starting with "---" ends a part; anything but a comment after it is
//     an error for the whole file), skips a part of nothing but blank
//     lines, comments and "---" (isEmptyYaml), converts each other part
//     with apimachinery's yaml.ToJSON (a part starting with "{" is taken as
//     JSON as it is; anything else goes through sigs.k8s.io/yaml, YAML 1.1)
//     and decodes it with unstructured.UnstructuredJSONScheme, which wants
//     a kind and takes any object with a top-level "items" field for a list
//     whose items are applied instead (toObjects).
//   - shouldDisableFile deletes, with its objects, a manifest whose name
//     (without its extension) is given to `k3s server --disable`.
//
// This package runs the same split (split.go, equal to YAMLReader's by a
// fuzz test), the same emptiness rule and the same apimachinery calls, so
// a part K3s cannot decode fails the build instead of the node. On top it
// wants what an apply needs: apiVersion, kind, metadata.name valid for the
// kind, and metadata.namespace a DNS label when given.
//
// # What it refuses and why
//
//   - Symbolic links, anywhere (an entry or inside a directory): they are
//     not followed (O_NOFOLLOW); list the file or directory they point to.
//     Path components above an entry are followed as usual.
//   - FIFOs, devices and sockets (never opened for reading; a FIFO is
//     detected without blocking, internal/smallfile).
//   - A file over MaxFileBytes, a document over MaxDocumentBytes (more
//     than the API server takes), more than MaxFiles files, more than
//     MaxTotalBytes in all, directories nested deeper than MaxDepth or
//     holding more than MaxDirEntries entries in all.
//   - A file given by name that K3s would not apply (not .yaml/.yml/.json).
//   - A name whose Addon name (up to the first dot) is not a lowercase
//     RFC 1123 name, is taken by another of the site's files (K3s would
//     track both as one Addon, and the build places files flat), or is one
//     of K3s's own (payload.K3sAddonNames).
//   - A HelmChart that names its chart by repository or URL: K3s's
//     helm-controller would download it at run time, and the site has no
//     network; the site's charts: section bakes a chart instead.
//   - A Kustomization: K3s applies files as they are and runs no kustomize.
//
// # Directories
//
// A directory entry is read the way K3s would read it copied into its
// manifests directory: recursively, in sorted order. Files K3s would not
// apply (other extensions, dotfiles, files with a NAME.skip marker beside
// them) and dot-directories (.git, an editor's) are skipped and listed in
// Set.Skipped with the reason, so a README beside the manifests is no
// error. Unlike K3s, a .skip marker only counts beside its file, and a
// dot-directory is not entered: neither reaches K3s, as the build places
// only the files it read.
//
// # Placement
//
// firstboot (firstboot/agent/k3splatform.go) copies every *.yaml file of
// payload.PlatformManifestsDir flat into K3s's server manifests directory.
// Set.Files gives each site file the name ADDON.yaml, its exact bytes
// unchanged: K3s parses content without regard to the extension, so a
// .yml or .json file under a .yaml name is read the same.
package manifests
