package bootserver

import (
	"strings"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/iana"
)

// The iPXE binaries a client's firmware loads over TFTP (Debian package
// `ipxe`, /usr/lib/ipxe).
const (
	// BIOSBootFile is iPXE for legacy BIOS PXE ROMs (chains the ROM's UNDI driver).
	BIOSBootFile = "undionly.kpxe"
	// EFIBootFile is iPXE for x86-64 UEFI firmware.
	EFIBootFile = "ipxe.efi"
)

// optionIPXEEncapsulated is DHCP option 175, which only iPXE sends.
const optionIPXEEncapsulated = dhcpv4.GenericOptionCode(175)

// client is what a DHCP request says about the machine that sent it.
type client struct {
	// pxe: the firmware's PXE ROM or iPXE asked (vendor class "PXEClient…").
	pxe bool
	// ipxe: iPXE itself is running (user class "iPXE" or option 175).
	ipxe bool
	// arch is the first RFC 4578 architecture type (option 93); BIOS when absent.
	arch iana.Arch
}

func describeClient(m *dhcpv4.DHCPv4) client {
	c := client{pxe: strings.HasPrefix(m.ClassIdentifier(), "PXEClient")}
	for _, uc := range m.UserClass() {
		if uc == "iPXE" {
			c.ipxe = true
		}
	}
	if m.Options.Has(optionIPXEEncapsulated) {
		c.ipxe = true
	}
	if archs := m.ClientArch(); len(archs) > 0 {
		c.arch = archs[0]
	}
	return c
}

// netbooting reports whether the client wants boot information at all.
func (c client) netbooting() bool { return c.pxe || c.ipxe }

// bootFile is what the client should load next: the boot script's HTTP URL
// for iPXE (breaking the PXE -> iPXE -> PXE chainload loop), otherwise the
// iPXE binary for its firmware. ok is false for architectures we have no
// binary for.
func (c client) bootFile(scriptURL string) (name string, ok bool) {
	if c.ipxe {
		return scriptURL, true
	}
	switch c.arch {
	case iana.INTEL_X86PC:
		return BIOSBootFile, true
	case iana.EFI_X86_64, iana.EFI_BC:
		return EFIBootFile, true
	}
	return "", false
}
