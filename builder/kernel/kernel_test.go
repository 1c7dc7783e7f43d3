package kernel

import (
	"io/fs"
	"testing"
	"testing/fstest"
)

func TestFind(t *testing.T) {
	file := &fstest.MapFile{Data: []byte("x")}
	dir := &fstest.MapFile{Mode: fs.ModeDir | 0o755}
	tests := []struct {
		name    string
		fs      fstest.MapFS
		want    Kernel
		wantErr string
	}{
		{
			name: "merged-usr",
			fs: fstest.MapFS{
				"boot/vmlinuz-6.1.0-56-amd64":         file,
				"boot/config-6.1.0-56-amd64":          file,
				"usr/lib/modules/6.1.0-56-amd64/a.ko": file,
				"lib":                                 &fstest.MapFile{Data: []byte("usr/lib"), Mode: fs.ModeSymlink | 0o777},
			},
			want: Kernel{Version: "6.1.0-56-amd64", ImagePath: "boot/vmlinuz-6.1.0-56-amd64", ModulesDir: "usr/lib/modules/6.1.0-56-amd64"},
		},
		{
			name: "classic lib",
			fs: fstest.MapFS{
				"boot/vmlinuz-6.1.0-56-cloud-amd64":       file,
				"lib/modules/6.1.0-56-cloud-amd64/kernel": dir,
			},
			want: Kernel{Version: "6.1.0-56-cloud-amd64", ImagePath: "boot/vmlinuz-6.1.0-56-cloud-amd64", ModulesDir: "lib/modules/6.1.0-56-cloud-amd64"},
		},
		{
			name:    "no kernel",
			fs:      fstest.MapFS{"boot/grub/grub.cfg": file, "boot/config-6.1": file},
			wantErr: "find kernel: no boot/vmlinuz-* (boot/ holds [config-6.1 grub])",
		},
		{
			name:    "no boot dir",
			fs:      fstest.MapFS{"etc/hostname": file},
			wantErr: "find kernel: no boot/vmlinuz-* (boot/ holds [])",
		},
		{
			name: "two kernels",
			fs: fstest.MapFS{
				"boot/vmlinuz-6.1.0-55-amd64": file,
				"boot/vmlinuz-6.1.0-56-amd64": file,
			},
			wantErr: "find kernel: 2 kernels, want exactly one: boot/vmlinuz-6.1.0-55-amd64 boot/vmlinuz-6.1.0-56-amd64",
		},
		{
			name: "no modules",
			fs: fstest.MapFS{
				"boot/vmlinuz-6.1": file,
				"lib/modules/6.0":  dir,
			},
			wantErr: "find kernel 6.1: no modules directory (looked for usr/lib/modules/6.1 and lib/modules/6.1)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Find(tt.fs)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("Find() error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Find(): %v", err)
			}
			got.FS = nil
			if got != tt.want {
				t.Errorf("Find() = %+v, want %+v", got, tt.want)
			}
		})
	}
}
