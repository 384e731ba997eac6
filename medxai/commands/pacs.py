"""`medxai pacs ...`: medxai as a node of a hospital's PACS (the `pacs/` component): a test PACS (Orthanc) for the
demo, a synthetic study to store in it, and explanations of stored studies written back into them as DICOM."""

import json
import signal
from pathlib import Path

import typer


def _gateway(dicomweb: str, user: str | None, password_file: Path | None, service: str, token_file: Path | None,
             tls_ca: Path | None, ig_steps: int, lime_samples: int, audit_log: Path, model_repository: Path | None,
             max_frames: int):
    from medxai.errors import UserError
    from pacs.audit import AuditLog
    from pacs.dicomweb import DicomWebSettings
    from pacs.explanation import ServiceSettings
    from pacs.pipeline import Gateway
    for path in (password_file, token_file, tls_ca):
        if path is not None and not path.is_file():
            raise UserError(f"file not found: {path}")
    if model_repository is not None and not model_repository.is_dir():
        raise UserError(f"folder not found: {model_repository}")
    token = token_file.read_text().strip() if token_file else None
    return Gateway(ServiceSettings(address=service, token=token, tls_ca=tls_ca, ig_steps=ig_steps,
                                   lime_samples=lime_samples),
                   DicomWebSettings(dicomweb, user, password_file), AuditLog(audit_log), model_repository,
                   max_frames)


def register(app: typer.Typer, data_app: typer.Typer, bench_app: typer.Typer) -> None:
    pacs_app = typer.Typer(help="Studies from a PACS, explanations back into it as DICOM.", no_args_is_help=True)
    app.add_typer(pacs_app, name="pacs")

    @pacs_app.command("test-server")
    def test_server(
        workdir: Path = typer.Option(Path("pacs-test"), help="Folder for Orthanc's configuration, storage, log "
                                                              "and password."),
        http_port: int = typer.Option(0, help="REST and DICOMweb port (0: a free one)."),
        dicom_port: int = typer.Option(0, help="DICOM port, AE title ORTHANC (0: a free one)."),
    ) -> None:
        """Run a test PACS in the foreground: Debian's Orthanc with DICOMweb, on loopback, basic auth on.

        Writes WORKDIR/pacs.json (URLs, user, password file) and stops on Ctrl-C; the studies stay in WORKDIR.

        Example: medxai pacs test-server --workdir demo/pacs
        """
        from medxai.triton_server import free_port
        from pacs.orthanc import AE_TITLE, PASSWORD_FILE, USER, OrthancServer
        server = OrthancServer(workdir, http_port or free_port(), dicom_port or free_port()).start()
        info = {"dicomweb": server.dicomweb_url, "rest": server.url, "user": USER,
                "password_file": str(server.workdir / PASSWORD_FILE), "dicom": f"{AE_TITLE}@127.0.0.1:{server.dicom_port}"}
        (server.workdir / "pacs.json").write_text(json.dumps(info, indent=2))
        typer.echo(json.dumps(info))
        signal.signal(signal.SIGTERM, signal.default_int_handler)
        try:
            code = server.wait()
        except KeyboardInterrupt:
            code = server.stop()
        raise typer.Exit(code)

    @pacs_app.command("phantom-study")
    def phantom_study(
        out: Path = typer.Option(..., help="Folder for the study's DICOM files."),
        modalities: str = typer.Option("CT,MR,CR", help="Comma-separated, one image each: CT, MR, CR."),
        size: int = typer.Option(128, help="Image rows and columns."),
        seed: int = typer.Option(0, min=0),
    ) -> None:
        """Write a synthetic study (phantom images as CT/MR/CR DICOM, no patient data).

        Example: medxai pacs phantom-study --out demo/study
        """
        import numpy as np
        from PIL import Image

        from medxai.data.phantoms import make_phantoms
        from medxai.errors import UserError
        from pacs.synthetic import SOP_CLASSES, synthetic_study
        chosen = [m.strip().upper() for m in modalities.split(",") if m.strip()]
        if not chosen or any(m not in SOP_CLASSES for m in chosen):
            raise UserError(f"modalities must be among {', '.join(SOP_CLASSES)}, got '{modalities}'")
        phantoms = make_phantoms(out / "phantoms", "xray", n=max(4, len(chosen)), seed=seed, size=size)
        images = [np.asarray(Image.open(path).convert("L"), dtype=np.float32) / 255
                  for path in sorted((phantoms / "images").glob("*.png"))[:len(chosen)]]
        for dataset in synthetic_study(images, chosen):
            dataset.save_as(out / f"{dataset.Modality}-{dataset.InstanceNumber}.dcm", enforce_file_format=True)
        typer.echo(json.dumps({"study_uid": str(dataset.StudyInstanceUID), "files": len(images), "out": str(out)}))

    dicomweb_option = typer.Option(..., envvar="MEDXAI_DICOMWEB", help="The PACS's DICOMweb root URL.")
    user_option = typer.Option(None, envvar="MEDXAI_DICOMWEB_USER", help="HTTP basic-auth user of the PACS.")
    password_option = typer.Option(None, envvar="MEDXAI_DICOMWEB_PASSWORD_FILE", help="File holding its password.")
    service_option = typer.Option("127.0.0.1:50051", envvar="MEDXAI_SERVICE", help="The explain service.")
    token_option = typer.Option(None, envvar="MEDXAI_TOKEN_FILE", help="The service's bearer token.")
    tls_option = typer.Option(None, envvar="MEDXAI_TLS_CA", help="CA certificate of a TLS service.")
    ig_steps_option = typer.Option(0, help="IG steps (0: the service's default).")
    lime_samples_option = typer.Option(0, help="LIME samples (0: the service's default).")
    audit_option = typer.Option(Path("pacs-audit.jsonl"), envvar="MEDXAI_PACS_AUDIT_LOG",
                                help="One JSON line per processed instance (no pixels, no patient data).")
    frames_option = typer.Option(16, min=1, envvar="MEDXAI_PACS_MAX_FRAMES",
                                 help="Most frames of a multi-frame image explained (one request each); an image "
                                      "with more is not explained, with that reason.")
    repository_option = typer.Option(None, envvar="MEDXAI_MODEL_REPOSITORY",
                                     help="Triton's repository folder: the report then says whether the served "
                                          "version passed the release gate's sanity check.")

    @pacs_app.command("store")
    def store_files(
        files: list[Path] = typer.Argument(..., help="DICOM files, or folders of them (*.dcm)."),
        dicomweb: str = dicomweb_option, user: str = user_option, password_file: Path = password_option,
    ) -> None:
        """Store DICOM files in the PACS by STOW-RS, one request per study.

        Example: medxai pacs store demo/study --dicomweb http://127.0.0.1:8042/dicom-web --user medxai --password-file demo/pacs/password
        """
        import pydicom

        from medxai.errors import UserError
        from pacs.dicomweb import DicomWebSettings, PacsUnavailable, store
        paths = [p for f in files for p in (sorted(f.glob("*.dcm")) if f.is_dir() else [f])]
        if missing := [str(p) for p in paths if not p.is_file()] or ([] if paths else [str(f) for f in files]):
            raise UserError(f"no DICOM file at {', '.join(missing)}")
        studies: dict[str, list] = {}
        for path in paths:
            dataset = pydicom.dcmread(path)
            studies.setdefault(str(dataset.StudyInstanceUID), []).append(dataset)
        settings = DicomWebSettings(dicomweb, user, password_file)
        try:
            for study_uid, datasets in studies.items():
                store(settings, datasets, study_uid)
        except PacsUnavailable as exc:
            raise UserError(str(exc)) from None
        typer.echo(json.dumps({"stored": len(paths), "studies": list(studies)}))

    @pacs_app.command("explain")
    def explain(
        study: str = typer.Option(..., help="Study Instance UID."),
        series: str = typer.Option(None, help="Series Instance UID (default: every series of the study)."),
        dicomweb: str = dicomweb_option, user: str = user_option, password_file: Path = password_option,
        service: str = service_option, token_file: Path = token_option, tls_ca: Path = tls_option,
        ig_steps: int = ig_steps_option, lime_samples: int = lime_samples_option, audit_log: Path = audit_option,
        model_repository: Path = repository_option, max_frames: int = frames_option,
    ) -> None:
        """Explain a stored study (WADO-RS) and store the results into it (STOW-RS): per image a Parametric Map
        per map, a Secondary Capture overlay and a Structured Report; a multi-frame image frame by frame. Images
        already explained by the served model version are skipped.

        Prints one JSON line per instance on stderr (explained, already-explained, not-explained with the reason,
        failed with the error) and a summary on stdout; exits 2 when an image was not explained.

        Example: medxai pacs explain --dicomweb http://127.0.0.1:8042/dicom-web --user medxai --password-file demo/pacs/password --study 1.2.3
        """
        from medxai.errors import UserError
        from pacs.dicomweb import PacsUnavailable, retrieve
        from pacs.explanation import ServiceUnavailable
        from pacs.pipeline import handle
        gateway = _gateway(dicomweb, user, password_file, service, token_file, tls_ca, ig_steps, lime_samples,
                           audit_log, model_repository, max_frames)
        outcomes = []
        try:
            for source in retrieve(gateway.pacs, study, series):
                outcome = handle(gateway, source)
                outcomes.append(outcome)
                if outcome["outcome"] != "not-explained" or outcome["set_aside"]:
                    typer.echo(json.dumps(outcome), err=True)
        except (PacsUnavailable, ServiceUnavailable) as exc:
            raise UserError(str(exc)) from None
        images = [o for o in outcomes if o["outcome"] != "not-explained" or o["set_aside"]]
        counts = {name: sum(o["outcome"] == name for o in images)
                  for name in ("explained", "out-of-scope", "already-explained", "not-explained", "failed")}
        typer.echo(json.dumps({"study_uid": study, "images": len(images), "other_objects": len(outcomes) - len(images)}
                              | counts))
        if unexplained := counts["not-explained"] + counts["failed"]:
            typer.echo(f"error: {unexplained} of {len(images)} images of study {study} were not explained "
                       f"({counts['failed']} failed, {counts['not-explained']} refused); the reasons are above and "
                       f"in {audit_log}.", err=True)
            raise typer.Exit(2)

    @pacs_app.command("viewer")
    def viewer(
        ohif: Path = typer.Option(Path(".cache/ohif/3.13.2"), help="OHIF Viewer's prebuilt app: the unpacked npm "
                                                                   "package @ohif/app (`make ohif` fetches it)."),
        dicomweb: str = dicomweb_option, user: str = user_option, password_file: Path = password_option,
        port: int = typer.Option(3000, help="The viewer's HTTP port."),
        host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    ) -> None:
        """Serve OHIF Viewer on the PACS in the foreground: radiologists' web viewer, showing each study with the
        results medxai stored (overlay, Parametric Maps fused on their source, the report's finding region).

        The PACS's DICOMweb is proxied on the viewer's own origin, with its credentials; stops on Ctrl-C.

        Example: medxai pacs viewer --ohif .cache/ohif/3.13.2 --dicomweb http://127.0.0.1:8042/dicom-web --user medxai --password-file demo/pacs/password
        """
        from pacs.dicomweb import DicomWebSettings
        from pacs.viewer import ViewerServer, ohif_dist
        server = ViewerServer(ohif_dist(ohif), DicomWebSettings(dicomweb, user, password_file), port, host).start()
        typer.echo(json.dumps({"viewer": server.url, "study": f"{server.url}/viewer?StudyInstanceUIDs=<Study UID>"}))
        signal.signal(signal.SIGTERM, signal.default_int_handler)
        try:
            while True:
                signal.pause()
        except KeyboardInterrupt:
            server.stop()

    @pacs_app.command("receive")
    def receive(
        ae_title: str = typer.Option("MEDXAI", help="Our AE title, as the PACS knows this node."),
        port: int = typer.Option(11112, help="DICOM port."),
        host: str = typer.Option("127.0.0.1", help="Address to listen on (0.0.0.0: every interface)."),
        queue: Path = typer.Option(Path("pacs-queue"), envvar="MEDXAI_PACS_QUEUE",
                                   help="Folder of the on-disk work queue (keep it on persistent storage)."),
        dicomweb: str = dicomweb_option, user: str = user_option, password_file: Path = password_option,
        service: str = service_option, token_file: Path = token_option, tls_ca: Path = tls_option,
        ig_steps: int = ig_steps_option, lime_samples: int = lime_samples_option, audit_log: Path = audit_option,
        model_repository: Path = repository_option, max_frames: int = frames_option,
        max_attempts: int = typer.Option(8, help="Attempts per instance before it is set aside in QUEUE/failed."),
        retry_base_s: float = typer.Option(2.0, help="Wait after the first failed attempt; doubles each time."),
        calling_ae_titles: str = typer.Option("", envvar="MEDXAI_PACS_CALLING_AE_TITLES",
                                              help="Comma-separated AE titles allowed to send (empty: any)."),
        dicom_tls_cert: Path = typer.Option(None, envvar="MEDXAI_DICOM_TLS_CERT",
                                            help="PEM certificate: DICOM over TLS (needs --dicom-tls-key and "
                                                 "--dicom-tls-client-ca)."),
        dicom_tls_key: Path = typer.Option(None, envvar="MEDXAI_DICOM_TLS_KEY", help="PEM private key."),
        dicom_tls_client_ca: Path = typer.Option(None, envvar="MEDXAI_DICOM_TLS_CLIENT_CA",
                                                 help="CA that signed the senders' certificates (checked)."),
        metrics_port: int = typer.Option(0, envvar="MEDXAI_PACS_METRICS_PORT",
                                         help="Prometheus metrics (outcomes per calling AE title, out-of-scope "
                                              "included) on this port of --host; 0: none."),
    ) -> None:
        """Receive studies by C-STORE, explain each image and store the results into the PACS by STOW-RS.

        Each instance is queued on disk before the sender is answered; a restart resumes the queue.

        Example: medxai pacs receive --ae-title MEDXAI --port 11112 --queue demo/queue --dicomweb http://127.0.0.1:8042/dicom-web --user medxai --password-file demo/pacs/password
        """
        from medxai.errors import UserError
        from pacs.queue import DiskQueue
        from pacs.receiver import Receiver, tls_context
        gateway = _gateway(dicomweb, user, password_file, service, token_file, tls_ca, ig_steps, lime_samples,
                           audit_log, model_repository, max_frames)
        tls_files = (dicom_tls_cert, dicom_tls_key, dicom_tls_client_ca)
        if any(tls_files) and not all(tls_files):
            raise UserError("DICOM over TLS needs all three of --dicom-tls-cert, --dicom-tls-key and "
                            "--dicom-tls-client-ca.")
        callers = tuple(title.strip() for title in calling_ae_titles.split(",") if title.strip())
        metrics = None
        if metrics_port:
            from pacs.metrics import GatewayMetrics
            metrics = GatewayMetrics()
            metrics.serve(metrics_port, host)
        receiver = Receiver(ae_title, port, DiskQueue(queue, max_attempts, retry_base_s), gateway, host,
                            calling_ae_titles=callers, metrics=metrics,
                            tls=tls_context(*tls_files) if all(tls_files) else None).start()
        typer.echo(json.dumps({"ae_title": ae_title, "address": f"{host}:{port}", "queue": str(queue),
                               "pending": len(receiver.queue.pending()), "calling_ae_titles": list(callers) or "any",
                               "transport": "TLS" if all(tls_files) else "plain"}), err=True)
        signal.signal(signal.SIGTERM, signal.default_int_handler)
        try:
            receiver.wait()
        except KeyboardInterrupt:
            receiver.stop()
