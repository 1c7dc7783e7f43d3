package netconfig

func (p *parser) bonds(section field) []Bond {
	var out []Bond
	p.devices(section, func(id, path string, fields []field) {
		b := Bond{ID: id}
		for _, f := range fields {
			key, sub := f.key.Value, path+"."+f.key.Value
			switch {
			case key == "interfaces":
				b.Interfaces, _ = p.strList(f, sub)
			case key == "parameters":
				b.Parameters = p.bondParameters(f, sub)
			case p.addressing(f, path, &b.Addressing):
			default:
				p.unsupported(f, path)
			}
		}
		out = append(out, b)
	})
	return out
}

func (p *parser) bondParameters(f field, path string) BondParameters {
	var bp BondParameters
	fields, ok := p.mapping(f, path)
	if !ok {
		return bp
	}
	for _, sub := range fields {
		key := path + "." + sub.key.Value
		switch sub.key.Value {
		case "mode":
			p.str(sub, key, &bp.Mode)
		case "lacp-rate":
			p.str(sub, key, &bp.LACPRate)
		case "transmit-hash-policy":
			p.str(sub, key, &bp.TransmitHashPolicy)
		case "mii-monitor-interval":
			p.milliseconds(sub, key, &bp.MIIMonitorInterval)
		case "primary":
			p.str(sub, key, &bp.Primary)
		default:
			p.unsupported(sub, path)
		}
	}
	return bp
}

// Values systemd.netdev(5) [Bond] accepts, in its documentation's order.
var (
	bondModes              = []string{"balance-rr", "active-backup", "balance-xor", "broadcast", "802.3ad", "balance-tlb", "balance-alb"}
	bondLACPRates          = []string{"slow", "fast"}
	bondTransmitHashPolicy = []string{"layer2", "layer3+4", "layer2+3", "encap2+3", "encap3+4"}
	// PrimarySlave= is only valid in these modes (systemd.network(5)).
	bondPrimaryModes = []string{"active-backup", "balance-tlb", "balance-alb"}
)
