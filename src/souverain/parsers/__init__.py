"""Pure parsers: SPF, DMARC, MTA-STS and TLS-RPT, HTTP headers, HTML resources. They never raise on input."""
