"""OHIF Viewer (the prebuilt `dist/` of the npm package `@ohif/app`) in front of a PACS's DICOMweb, for looking at
medxai's results as a radiologist's web viewer shows them: `medxai pacs viewer`, and the tests' real viewer.

One HTTP server on loopback serves OHIF's files, an `app-config.js` whose one data source is this same origin's
`/dicom-web`, and that path as a reverse proxy to the PACS with its credentials. Same origin because OHIF fetches
DICOMweb from the browser: a PACS on another port would need CORS, which Orthanc does not send; the proxy passes
the browser's Host on, so that the bulk data URIs the PACS writes into its metadata point back at the proxy.

Standard library HTTP server and `requests`: OHIF ships no server, and a static server with one proxied path is
all the viewer needs."""

import json
import mimetypes
import shutil
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import requests

from medxai.errors import UserError
from pacs.dicomweb import DicomWebSettings

OHIF_VERSION = "3.13.2"
"""The `@ohif/app` release the tests and the Makefile fetch (`npm pack @ohif/app@3.13.2`)."""
PROXY_PREFIX = "/dicom-web"
HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailers",
              "transfer-encoding", "upgrade", "content-encoding", "content-length"}
"""Headers that describe one connection (RFC 9110 7.6.1) or the body's encoding, which `requests` undoes."""
APP_CONFIG = """window.config = {
  routerBasename: null,
  extensions: [],
  modes: [],
  showStudyList: true,
  maxNumberOfWebWorkers: 1,
  showWarningMessageForCrossOrigin: false,
  showCPUFallbackMessage: false,
  showLoadingIndicator: true,
  defaultDataSourceName: 'pacs',
  dataSources: [{
    namespace: '@ohif/extension-default.dataSourcesModule.dicomweb',
    sourceName: 'pacs',
    configuration: {
      friendlyName: %(name)s,
      name: 'pacs',
      wadoUriRoot: window.location.origin + '%(prefix)s',
      qidoRoot: window.location.origin + '%(prefix)s',
      wadoRoot: window.location.origin + '%(prefix)s',
      qidoSupportsIncludeField: false,
      imageRendering: 'wadors',
      thumbnailRendering: 'wadors',
      enableStudyLazyLoad: true,
      supportsFuzzyMatching: false,
      supportsWildcard: true,
      staticWado: false,
      singlepart: 'bulkdata,video',
      bulkDataURI: {enabled: true, relativeResolution: 'studies'},
      omitQuotationForMultipartRequest: true,
    },
  }],
};
"""
"""OHIF's configuration (its `config/default.js` shape) with one DICOMweb data source on this origin."""


def ohif_dist(folder: Path) -> Path:
    """OHIF's built app under `folder` (the unpacked npm package, or its `dist/` itself). Raises UserError when
    there is none, naming the command that fetches it."""
    for candidate in (folder / "package" / "dist", folder / "dist", folder):
        if (candidate / "index.html").is_file() and (candidate / "app-config.js").is_file():
            return candidate
    raise UserError(f"no OHIF Viewer build in {folder}: fetch it with `make ohif` (npm pack @ohif/app@{OHIF_VERSION}, "
                    f"then tar xzf) and pass the folder")


@dataclass
class ViewerServer:
    """OHIF from `dist` on http://127.0.0.1:`port`, its DICOMweb proxied to `pacs`. `start()` / `stop()`."""
    dist: Path
    pacs: DicomWebSettings
    port: int
    host: str = "127.0.0.1"
    name: str = "medxai PACS"
    _server: ThreadingHTTPServer | None = field(default=None, init=False, repr=False)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def study_url(self, study_uid: str) -> str:
        """OHIF's basic viewer opened on one study."""
        return f"{self.url}/viewer?StudyInstanceUIDs={study_uid}"

    def start(self) -> "ViewerServer":
        viewer = self
        session = requests.Session()
        if self.pacs.user:
            if self.pacs.password_file is None or not Path(self.pacs.password_file).is_file():
                raise UserError(f"the DICOMweb user {self.pacs.user} needs a password file (--password-file).")
            session.auth = (self.pacs.user, Path(self.pacs.password_file).read_text().strip())
        upstream = self.pacs.url.rstrip("/")
        config = (APP_CONFIG % {"name": json.dumps(self.name), "prefix": PROXY_PREFIX}).encode()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # quiet: the browser asks for hundreds of files
                pass

            def _send(self, status: int, body: bytes, content_type: str, headers: dict | None = None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def do_GET(self) -> None:
                path = urlsplit(self.path).path
                if path == PROXY_PREFIX or path.startswith(PROXY_PREFIX + "/"):
                    return self._proxy()
                if path == "/app-config.js":
                    return self._send(200, config, "application/javascript")
                file = (viewer.dist / path.lstrip("/")).resolve()
                if viewer.dist.resolve() not in file.parents or not file.is_file():
                    file = viewer.dist / "index.html"  # OHIF routes /viewer, /local, ... in the browser
                kind = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
                if file.suffix == ".wasm":
                    kind = "application/wasm"
                self._send(200, file.read_bytes(), kind)

            do_HEAD = do_GET

            def _proxy(self) -> None:
                target = upstream + self.path[len(PROXY_PREFIX):]
                headers = {name: value for name, value in self.headers.items()
                           if name.lower() not in HOP_BY_HOP | {"host", "authorization", "accept-encoding"}}
                headers["Host"] = self.headers.get("Host", f"{viewer.host}:{viewer.port}")
                try:
                    reply = session.request(self.command, target, headers=headers, timeout=viewer.pacs.timeout_s)
                except requests.RequestException as exc:
                    return self._send(502, f"the PACS did not answer: {exc}".encode(), "text/plain")
                kept = {name: value for name, value in reply.headers.items()
                        if name.lower() not in HOP_BY_HOP | {"content-type"}}
                self._send(reply.status_code, reply.content, reply.headers.get("Content-Type", "text/plain"), kept)

        try:
            self._server = ThreadingHTTPServer((self.host, self.port), Handler)
        except OSError as exc:
            raise UserError(f"cannot serve the viewer on {self.host}:{self.port}: {exc.strerror}") from None
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, name="ohif-viewer", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> "ViewerServer":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()


def npm_available() -> bool:
    """Whether npm is on the PATH (it fetches OHIF's package)."""
    return shutil.which("npm") is not None
