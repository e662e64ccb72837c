// The DNS wire format (RFC 1035): placeholder until the codec lands.
