// Command appliance-init is the appliance's initramfs init (PID 1 until it
// switches root to systemd). Build it static: CGO_ENABLED=0 go build.
// The logic is in package bootinit.
package main

import "github.com/ml-appliance/appliance/firstboot/bootinit"

func main() {
	bootinit.Run() // never returns
}
