package netconfig

import "gopkg.in/yaml.v3"

func (p *parser) ethernets(section field) []Ethernet {
	var out []Ethernet
	p.devices(section, func(id, path string, fields []field) {
		e := Ethernet{ID: id}
		for _, f := range fields {
			key, sub := f.key.Value, path+"."+f.key.Value
			switch {
			case key == "match":
				e.Match = p.match(f, sub)
			case key == "set-name":
				p.str(f, sub, &e.SetName)
			case p.addressing(f, path, &e.Addressing):
			default:
				p.unsupported(f, path)
			}
		}
		out = append(out, e)
	})
	return out
}

func (p *parser) match(f field, path string) *Match {
	fields, ok := p.mapping(f, path)
	if !ok {
		return nil
	}
	m := &Match{}
	for _, sub := range fields {
		switch key := sub.key.Value; key {
		case "name":
			p.str(sub, path+".name", &m.Name)
		case "macaddress":
			p.str(sub, path+".macaddress", &m.MACAddress)
		case "driver":
			p.str(sub, path+".driver", &m.Driver)
		default:
			p.unsupported(sub, path)
		}
	}
	return m
}

func (p *parser) vlans(section field) []VLAN {
	var out []VLAN
	p.devices(section, func(id, path string, fields []field) {
		v := VLAN{ID: id}
		hasID := false
		for _, f := range fields {
			key, sub := f.key.Value, path+"."+f.key.Value
			switch {
			case key == "id":
				hasID = true
				p.integer(f, sub, &v.VLANID)
			case key == "link":
				p.str(f, sub, &v.Link)
			case p.addressing(f, path, &v.Addressing):
			default:
				p.unsupported(f, path)
			}
		}
		if !hasID {
			p.failAt(p.lines[path], path+".id", "want a VLAN ID in 1..4094, got none")
		}
		out = append(out, v)
	})
	return out
}

// addressing decodes f into a when it is one of the keys all device types
// share, and reports whether it was.
func (p *parser) addressing(f field, path string, a *Addressing) bool {
	key := f.key.Value
	sub := path + "." + key
	switch key {
	case "dhcp4":
		p.boolean(f, sub, &a.DHCP4)
	case "dhcp6":
		p.boolean(f, sub, &a.DHCP6)
	case "addresses":
		a.Addresses, _ = p.strList(f, sub)
	case "gateway4":
		p.str(f, sub, &a.Gateway4)
	case "gateway6":
		p.str(f, sub, &a.Gateway6)
	case "routes":
		a.Routes = p.routes(f, sub)
	case "nameservers":
		a.Nameservers = p.nameservers(f, sub)
	case "mtu":
		if p.integer(f, sub, &a.MTU) && a.MTU == 0 {
			p.fail(f.value, sub, "want an MTU in %d..%d, got 0", minMTU, maxMTU)
		}
	case "optional":
		p.boolean(f, sub, &a.Optional)
	default:
		return false
	}
	return true
}

func (p *parser) routes(f field, path string) []Route {
	v := deref(f.value)
	p.lines[path] = f.key.Line
	if v.Kind != yaml.SequenceNode {
		p.fail(v, path, "want a list of routes, got %s", kindName(v))
		return nil
	}
	var out []Route
	for i, item := range v.Content {
		item = deref(item)
		rpath := path + index(i)
		p.lines[rpath] = item.Line
		if item.Kind != yaml.MappingNode {
			p.fail(item, rpath, "want a mapping with to and via, got %s", kindName(item))
			continue
		}
		var r Route
		for _, rf := range p.fields(item, rpath) {
			sub := rpath + "." + rf.key.Value
			switch rf.key.Value {
			case "to":
				p.str(rf, sub, &r.To)
			case "via":
				p.str(rf, sub, &r.Via)
			case "metric":
				r.Metric, _ = p.uint32(rf, sub)
			case "on-link":
				p.boolean(rf, sub, &r.OnLink)
			default:
				p.unsupported(rf, rpath)
			}
		}
		out = append(out, r)
	}
	return out
}

func (p *parser) nameservers(f field, path string) Nameservers {
	var ns Nameservers
	fields, ok := p.mapping(f, path)
	if !ok {
		return ns
	}
	for _, sub := range fields {
		switch sub.key.Value {
		case "addresses":
			ns.Addresses, _ = p.strList(sub, path+".addresses")
		case "search":
			ns.Search, _ = p.strList(sub, path+".search")
		default:
			p.unsupported(sub, path)
		}
	}
	return ns
}
