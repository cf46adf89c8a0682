#!/usr/bin/env python3
"""pyHanko as the independent signer and judge of the PAdES tests (tests/signature/pades.rs).

    pades.py blank OUT [--size BYTES]
        a one-page PDF (a clinical act's text), padded to about BYTES with more text
    pades.py sign IN OUT --key K --cert C --chain CH --field NAME [--adbe] [--tsa URL]
                 [--certify P] [--ltv --trust ROOT.pem] [--lta]
        an incremental update signing IN: PAdES (ETSI.CAdES.detached) unless --adbe
    pades.py timestamp IN OUT --tsa URL
        a document time-stamp (ETSI.RFC3161) in an incremental update
    pades.py annotate IN OUT
        an incremental update adding a text annotation to the first page
    pades.py alter IN OUT
        an incremental update replacing the first page's content (what it shows)
    pades.py validate IN --trust ROOT.pem [--time UNIX]
        pyHanko's verdict on every signature and document time-stamp, one JSON object a line
    pades.py batch FILE
        every command of FILE (a JSON array of argument lists) in one interpreter, in order

Signing keys are PEM files without a password (the test PKI's).
"""

import argparse
import datetime
import json
import sys

from pyhanko.keys import load_cert_from_pemder
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers, timestamps
from pyhanko.sign.validation import validate_pdf_signature, validate_pdf_timestamp
from pyhanko_certvalidator import ValidationContext


def blank(out, size):
    text = "Acto clinico: consulta externa, paciente DNI 41234567."
    lines = [f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET"]
    # Padding as more lines of text (uncompressed), to reach a size for the benchmarks.
    y = 700
    length = len(lines[0]) + 1
    while length < size:
        line = f"BT /F1 8 Tf 72 {y % 700 + 20} Td (Evolucion {len(lines):07d}: sin cambios.) Tj ET"
        lines.append(line)
        length += len(line) + 1
        y -= 10
    content = "\n".join(lines).encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(content)).encode() + b" >>\nstream\n" + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    pdf = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(pdf))
        pdf += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(pdf)
    pdf += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for offset in offsets:
        pdf += f"{offset:010d} 00000 n \n".encode()
    pdf += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    with open(out, "wb") as file:
        file.write(pdf)


def validation_context(trust, when=None, allow_fetching=False):
    roots = [load_cert_from_pemder(path) for path in trust]
    moment = None
    if when is not None:
        moment = datetime.datetime.fromtimestamp(int(when), tz=datetime.timezone.utc)
    return ValidationContext(
        trust_roots=roots,
        allow_fetching=allow_fetching,
        moment=moment,
        revocation_mode="soft-fail",
    )


def sign(args):
    signer = signers.SimpleSigner.load(
        args.key, args.cert, ca_chain_files=(args.chain,), key_passphrase=None
    )
    meta = signers.PdfSignatureMetadata(
        field_name=args.field,
        subfilter=fields.SigSeedSubFilter.ADOBE_PKCS7_DETACHED if args.adbe else fields.SigSeedSubFilter.PADES,
        certify=args.certify is not None,
        docmdp_permissions=fields.MDPPerm(args.certify) if args.certify is not None else fields.MDPPerm.FILL_FORMS,
        embed_validation_info=args.ltv,
        use_pades_lta=args.lta,
        validation_context=validation_context(args.trust, allow_fetching=True) if args.ltv else None,
        reason="Firma del acto clinico",
    )
    stamper = timestamps.HTTPTimeStamper(args.tsa) if args.tsa else None
    with open(args.input, "rb") as source, open(args.output, "wb") as out:
        writer = IncrementalPdfFileWriter(source)
        signers.sign_pdf(writer, meta, signer=signer, timestamper=stamper, output=out)


def timestamp(args):
    with open(args.input, "rb") as source, open(args.output, "wb") as out:
        writer = IncrementalPdfFileWriter(source)
        signers.PdfTimeStamper(timestamps.HTTPTimeStamper(args.tsa)).timestamp_pdf(
            writer, "sha256", output=out
        )


def first_page(writer):
    return writer.root["/Pages"]["/Kids"][0]


def annotate(args):
    with open(args.input, "rb") as source:
        writer = IncrementalPdfFileWriter(source)
        annotation = generic.DictionaryObject(
            {
                generic.NameObject("/Type"): generic.NameObject("/Annot"),
                generic.NameObject("/Subtype"): generic.NameObject("/Text"),
                generic.NameObject("/Rect"): generic.ArrayObject(
                    [generic.NumberObject(n) for n in (72, 600, 92, 620)]
                ),
                generic.NameObject("/Contents"): generic.TextStringObject("Revisado"),
            }
        )
        reference = writer.add_object(annotation)
        page_ref = writer.root["/Pages"].raw_get("/Kids")[0]
        page = page_ref.get_object()
        annots = page.get("/Annots", generic.ArrayObject())
        annots.append(reference)
        page[generic.NameObject("/Annots")] = annots
        writer.update_container(page_ref)
        with open(args.output, "wb") as out:
            writer.write(out)


def alter(args):
    with open(args.input, "rb") as source:
        writer = IncrementalPdfFileWriter(source)
        content = generic.StreamObject(
            stream_data=b"BT /F1 12 Tf 72 720 Td (Acto clinico: paciente DNI 99999999.) Tj ET"
        )
        reference = writer.add_object(content)
        page_ref = writer.root["/Pages"].raw_get("/Kids")[0]
        page = page_ref.get_object()
        page[generic.NameObject("/Contents")] = reference
        writer.update_container(page_ref)
        with open(args.output, "wb") as out:
            writer.write(out)


def validate(args):
    context = lambda: validation_context(args.trust, args.time)  # noqa: E731
    with open(args.input, "rb") as source:
        reader = PdfFileReader(source)
        for embedded in reader.embedded_signatures:
            kind = embedded.sig_object_type.lstrip("/")
            try:
                if kind == "DocTimeStamp":
                    status = validate_pdf_timestamp(embedded, validation_context=context())
                else:
                    status = validate_pdf_signature(
                        embedded,
                        signer_validation_context=context(),
                        ts_validation_context=context(),
                    )
                verdict = {
                    "file": args.input,
                    "field": embedded.field_name,
                    "kind": kind,
                    "bottom_line": bool(status.bottom_line),
                    "intact": bool(status.intact),
                    "valid": bool(status.valid),
                    "trusted": bool(status.trusted),
                    "coverage": status.coverage.name if status.coverage else None,
                    "modification_level": status.modification_level.name
                    if status.modification_level is not None
                    else None,
                    "docmdp_ok": status.docmdp_ok,
                    "summary": status.summary(),
                }
            except Exception as error:  # pyHanko refuses what it cannot read
                verdict = {
                    "file": args.input,
                    "field": embedded.field_name,
                    "kind": kind,
                    "bottom_line": False,
                    "intact": False,
                    "valid": False,
                    "trusted": False,
                    "summary": f"error: {type(error).__name__}: {error}",
                }
            print(json.dumps(verdict))


def parser():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    command = commands.add_parser("blank")
    command.add_argument("output")
    command.add_argument("--size", type=int, default=0)
    command = commands.add_parser("sign")
    command.add_argument("input")
    command.add_argument("output")
    for option in ("--key", "--cert", "--chain", "--field"):
        command.add_argument(option, required=True)
    command.add_argument("--adbe", action="store_true")
    command.add_argument("--tsa")
    command.add_argument("--certify", type=int, choices=(1, 2, 3))
    command.add_argument("--ltv", action="store_true")
    command.add_argument("--lta", action="store_true")
    command.add_argument("--trust", action="append", default=[])
    command = commands.add_parser("timestamp")
    command.add_argument("input")
    command.add_argument("output")
    command.add_argument("--tsa", required=True)
    for name in ("annotate", "alter"):
        command = commands.add_parser(name)
        command.add_argument("input")
        command.add_argument("output")
    command = commands.add_parser("validate")
    command.add_argument("input")
    command.add_argument("--trust", action="append", required=True)
    command.add_argument("--time")
    command = commands.add_parser("batch")
    command.add_argument("file")
    return parser


def run(args):
    if args.command == "blank":
        blank(args.output, args.size)
    elif args.command == "batch":
        # Python starts slowly: one interpreter for many commands.
        with open(args.file) as file:
            for command in json.load(file):
                run(parser().parse_args(command))
    else:
        {"sign": sign, "timestamp": timestamp, "annotate": annotate, "alter": alter, "validate": validate}[
            args.command
        ](args)


def main():
    run(parser().parse_args())


if __name__ == "__main__":
    sys.exit(main())
