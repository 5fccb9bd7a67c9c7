"""A tiny authoritative DNS server on loopback for tests: real DNS packets, answers from a dict."""

import socket
import threading

import dns.message
import dns.rdataclass
import dns.rdatatype
import dns.rrset


class ZoneServer:
    """A tiny authoritative UDP DNS server: answers from `records`, NXDOMAIN otherwise."""

    def __init__(self) -> None:
        self.records: dict[tuple[str, str], list[str]] = {}
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.sock.settimeout(0.2)
        self.running = True
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self) -> None:
        while self.running:
            try:
                data, peer = self.sock.recvfrom(4096)
            except OSError:
                continue
            query = dns.message.from_wire(data)
            response = dns.message.make_response(query)
            question = query.question[0]
            name = question.name.to_text().rstrip(".")
            kind = dns.rdatatype.to_text(question.rdtype)
            values = self.records.get((name, kind))
            if values:
                if kind == "TXT":
                    values = ['"' + '" "'.join(v[i:i + 250] for i in range(0, len(v), 250)) + '"' for v in values]
                response.answer.append(dns.rrset.from_text_list(question.name, 60, dns.rdataclass.IN, kind, values))
            elif not any(known == name for known, _ in self.records):
                response.set_rcode(3)  # NXDOMAIN only for names with no records at all, as real servers do
            self.sock.sendto(response.to_wire(), peer)

    def stop(self) -> None:
        self.running = False
        self.thread.join()
        self.sock.close()
