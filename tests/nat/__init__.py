"""NAT/firewall lab: the FTP data channel through real namespaces, NAT and nftables."""
