package diskimage

import (
	"slices"
	"testing"
	"time"

	"github.com/ml-appliance/appliance/firstboot/bootparam"
)

func TestPlanSizesDefaults(t *testing.T) {
	tests := []struct {
		name                   string
		opts                   Options
		imageSize, payloadSize int64
		want                   sizes
	}{
		{
			name:      "all defaults, small image: 1 GiB slots, smallest disk",
			imageSize: 100 * MiB,
			want:      sizes{disk: 2*MiB + 256*MiB + 2*1024*MiB + MiB + 512*MiB, esp: 256 * MiB, osSlot: 1024 * MiB, secrets: MiB, state: 512 * MiB},
		},
		{
			name:      "large image: slot is twice the image rounded up to MiB",
			imageSize: 700*MiB + 1,
			want:      sizes{disk: 2*MiB + 256*MiB + 2*1401*MiB + MiB + 512*MiB, esp: 256 * MiB, osSlot: 1401 * MiB, secrets: MiB, state: 512 * MiB},
		},
		{
			name:      "explicit size: STATE takes the rest up to the last MiB boundary before the backup GPT",
			opts:      Options{Size: 4096 * MiB, ESPSize: 64 * MiB, OSSlotSize: 8 * MiB, MinStateSize: 64 * MiB},
			imageSize: 4096,
			want:      sizes{disk: 4096 * MiB, esp: 64 * MiB, osSlot: 8 * MiB, secrets: MiB, state: 4096*MiB - MiB - MiB - 64*MiB - 16*MiB - MiB},
		},
		{
			name:      "size not on a MiB boundary: STATE ends on the boundary below",
			opts:      Options{Size: 200*MiB + 512*7, ESPSize: 64 * MiB, OSSlotSize: 8 * MiB, MinStateSize: 64 * MiB},
			imageSize: 4096,
			want:      sizes{disk: 200*MiB + 512*7, esp: 64 * MiB, osSlot: 8 * MiB, secrets: MiB, state: 199*MiB - MiB - 64*MiB - 16*MiB - MiB},
		},
		{
			name:      "image exactly fills the slot",
			opts:      Options{OSSlotSize: 8 * MiB},
			imageSize: 8 * MiB,
			want:      sizes{disk: 2*MiB + 256*MiB + 16*MiB + MiB + 512*MiB, esp: 256 * MiB, osSlot: 8 * MiB, secrets: MiB, state: 512 * MiB},
		},
		{
			name:      "payload: its own partition, the tar rounded up to MiB",
			imageSize: 100 * MiB, payloadSize: 5*1000*1000*1000 + 1,
			want: sizes{disk: 2*MiB + 256*MiB + 2*1024*MiB + MiB + 4769*MiB + 512*MiB, esp: 256 * MiB, osSlot: 1024 * MiB, secrets: MiB,
				payload: 4769 * MiB, state: 512 * MiB},
		},
		{
			name:      "payload of whole MiBs: no padding",
			opts:      Options{OSSlotSize: 8 * MiB},
			imageSize: 4096, payloadSize: 3 * MiB,
			want: sizes{disk: 2*MiB + 256*MiB + 16*MiB + MiB + 3*MiB + 512*MiB, esp: 256 * MiB, osSlot: 8 * MiB, secrets: MiB, payload: 3 * MiB, state: 512 * MiB},
		},
		{
			name:      "payload and explicit size: STATE takes what the payload leaves",
			opts:      Options{Size: 4096 * MiB, ESPSize: 64 * MiB, OSSlotSize: 8 * MiB, MinStateSize: 64 * MiB},
			imageSize: 4096, payloadSize: 1024*MiB - 10,
			want: sizes{disk: 4096 * MiB, esp: 64 * MiB, osSlot: 8 * MiB, secrets: MiB, payload: 1024 * MiB,
				state: 4096*MiB - MiB - MiB - 64*MiB - 16*MiB - MiB - 1024*MiB},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := planSizes(tt.opts, tt.imageSize, tt.payloadSize)
			if err != nil {
				t.Fatalf("planSizes: %v", err)
			}
			if got != tt.want {
				t.Errorf("planSizes = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestPlanSizesErrors(t *testing.T) {
	small := Options{ESPSize: 64 * MiB, OSSlotSize: 8 * MiB, MinStateSize: 64 * MiB}
	withSize := func(size int64) Options { o := small; o.Size = size; return o }
	tests := []struct {
		name                   string
		opts                   Options
		imageSize, payloadSize int64
		want                   string
	}{
		{
			name: "disk one sector too small",
			opts: withSize(147*MiB - 512),
			want: "disk size 154140160 bytes is too small: the layout needs at least 154140672 bytes " +
				"(147 MiB: ESP 64 MiB, OS-A and OS-B 8 MiB each, SECRETS 1 MiB, STATE at least 64 MiB, 2 MiB for the GPT)",
		},
		{
			name: "disk with default sizes too small",
			opts: Options{Size: 1024 * MiB},
			want: "disk size 1073741824 bytes is too small: the layout needs at least 2955935744 bytes " +
				"(2819 MiB: ESP 256 MiB, OS-A and OS-B 1024 MiB each, SECRETS 1 MiB, STATE at least 512 MiB, 2 MiB for the GPT)",
		},
		{
			name:        "disk too small for the payload",
			opts:        withSize(1024 * MiB),
			payloadSize: 1000*MiB + 1,
			want: "disk size 1073741824 bytes is too small: the layout needs at least 1203765248 bytes " +
				"(1148 MiB: ESP 64 MiB, OS-A and OS-B 8 MiB each, SECRETS 1 MiB, PAYLOAD 1001 MiB (the image payload of 1048576001 bytes), " +
				"STATE at least 64 MiB, 2 MiB for the GPT)",
		},
		{
			name: "disk size not whole sectors",
			opts: withSize(4096*MiB + 100),
			want: "disk size 4294967396 is not a multiple of the 512-byte sector",
		},
		{
			name:      "image larger than the slot",
			opts:      small,
			imageSize: 8*MiB + 1,
			want:      "OS image of 8388609 bytes does not fit in an OS slot of 8 MiB",
		},
		{
			name: "ESP below FAT32's minimum",
			opts: Options{ESPSize: 32 * MiB},
			want: "ESPSize 32 MiB is below the minimum of 64 MiB",
		},
		{
			name: "ESP not MiB aligned",
			opts: Options{ESPSize: 100*MiB + 512},
			want: "ESPSize 104858112 is not a multiple of 1 MiB",
		},
		{
			name: "slot not MiB aligned",
			opts: Options{OSSlotSize: 1000 * 1000 * 1000},
			want: "OSSlotSize 1000000000 is not a multiple of 1 MiB",
		},
		{
			name: "STATE below its floor",
			opts: Options{MinStateSize: 16 * MiB},
			want: "MinStateSize 16 MiB is below the minimum of 64 MiB",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := planSizes(tt.opts, tt.imageSize, tt.payloadSize)
			if err == nil {
				t.Fatalf("planSizes = %+v, want error %q", got, tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("error:\n got %q\nwant %q", err, tt.want)
			}
		})
	}
}

func TestPartitionsAreContiguousAndAligned(t *testing.T) {
	for _, c := range []struct {
		payloadSize int64
		wantLabels  []string
	}{
		{0, []string{"ESP", "OS-A", "OS-B", "SECRETS", "STATE"}},
		// PAYLOAD before STATE: STATE stays last, so the node can grow it.
		{2*MiB + 5, []string{"ESP", "OS-A", "OS-B", "SECRETS", "PAYLOAD", "STATE"}},
	} {
		s, err := planSizes(Options{Size: 10*1024*MiB + 4096}, 300*MiB, c.payloadSize)
		if err != nil {
			t.Fatal(err)
		}
		parts := s.partitions()
		var labels []string
		next := MiB
		for _, p := range parts {
			labels = append(labels, p.label)
			if p.start != next {
				t.Errorf("%s starts at %d, want %d (right after the previous one)", p.label, p.start, next)
			}
			if p.start%MiB != 0 || p.size%MiB != 0 {
				t.Errorf("%s start %d size %d not MiB aligned", p.label, p.start, p.size)
			}
			wantType, wantAttr := TypeLinuxFilesystem, bootparam.GPTAttributes(0)
			switch p.label {
			case "ESP":
				wantType = TypeEFISystem
			case "PAYLOAD":
				wantType, wantAttr = TypePayload, AttrReadOnly
				if p.size != 3*MiB {
					t.Errorf("PAYLOAD of a %d-byte payload is %d bytes, want 3 MiB", c.payloadSize, p.size)
				}
			}
			if p.typeGUID != wantType || p.attributes != wantAttr {
				t.Errorf("%s type %s attributes %#x, want %s %#x", p.label, p.typeGUID, p.attributes, wantType, wantAttr)
			}
			next = p.start + p.size
		}
		if !slices.Equal(labels, c.wantLabels) {
			t.Errorf("payload of %d bytes: partitions %q, want %q", c.payloadSize, labels, c.wantLabels)
		}
		if parts[1].size != parts[2].size {
			t.Errorf("OS-A size %d != OS-B size %d", parts[1].size, parts[2].size)
		}
		if end := next; end > s.disk-gptTail || s.disk-gptTail-end >= MiB {
			t.Errorf("STATE ends at %d; want the last MiB boundary at or before %d", end, s.disk-gptTail)
		}
	}
}

func TestFATTimestamp(t *testing.T) {
	tests := []struct {
		in                 time.Time
		date, time, tenths uint16
	}{
		// 2023-11-14 22:13:20 UTC: date (43<<9 | 11<<5 | 14), time (22<<11 | 13<<5 | 10).
		{time.Unix(1700000000, 0), 43<<9 | 11<<5 | 14, 22<<11 | 13<<5 | 10, 0},
		// Odd seconds go to the tenths field: 22:13:21 is 22:13:20 + 100 x 10 ms.
		{time.Unix(1700000001, 0), 43<<9 | 11<<5 | 14, 22<<11 | 13<<5 | 10, 100},
		// Zones do not matter: the same instant in UTC+2.
		{time.Unix(1700000000, 0).In(time.FixedZone("X", 7200)), 43<<9 | 11<<5 | 14, 22<<11 | 13<<5 | 10, 0},
		// Before FAT's epoch (e.g. SOURCE_DATE_EPOCH=0): 1980-01-01 00:00:00.
		{time.Unix(0, 0), 0<<9 | 1<<5 | 1, 0, 0},
		// After FAT's last date: 2107-12-31 23:59:58.
		{time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC), 127<<9 | 12<<5 | 31, 23<<11 | 59<<5 | 29, 0},
	}
	for _, tt := range tests {
		date, tm, tenths := fatTimestamp(tt.in)
		if date != tt.date || tm != tt.time || uint16(tenths) != tt.tenths {
			t.Errorf("fatTimestamp(%v) = %#x %#x %d, want %#x %#x %d", tt.in, date, tm, tenths, tt.date, tt.time, tt.tenths)
		}
	}
}
