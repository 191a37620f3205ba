"""The httpd test bed: a private MIT realm, a private TLS PKI, a private Apache httpd (mod_ssl,
mod_auth_gssapi, mod_wsgi, mod_proxy) and an echoing backend, all real processes on 127.0.0.1,
started and stopped by PID, every wait bounded."""
