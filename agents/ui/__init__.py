"""`clade ui`: the local web page (session overview, lineage graph, candidate review, chat).

See agents/ui/README.md. The server is the standard library's ThreadingHTTPServer; the
page is plain JavaScript with inline SVG, and nothing is fetched from outside the server.
"""
