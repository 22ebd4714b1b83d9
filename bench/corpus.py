"""A reproducible synthetic corpus of Italian social-plan documents, for benchmarks.

Everything is derived from one seed: the same seed gives byte-identical PDFs, text files,
catalog and questions. Running prose comes from an order-2 word chain trained on the demo
corpus (``corpus/*.txt``); facts (amounts, users, phone numbers, funding sources) come from
templates over ``bench/vocab.yaml``. PDFs are laid out with fpdf2 (pure Python): a running
header and page footer, a table of contents with leader dots, numbered chapter and section
headings, paragraphs, bullet lists and ruled tables — what pypdf meets in real plans.
"""

from __future__ import annotations

from datetime import datetime, timezone

import random
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import yaml

ROOT = Path(__file__).resolve().parent.parent
VOCAB_FILE = Path(__file__).with_name("vocab.yaml")
DOC_TYPES = ("piano di zona", "scheda PNRR", "avviso", "lista interventi", "relazione sociale")


@dataclass(frozen=True)
class Block:
    """One unit of a document: ``kind`` is title, h1, h2, p, list or table."""

    kind: str
    text: str = ""
    items: tuple = ()


class WordChain:
    """An order-2 Markov chain over the words of some Italian text."""

    def __init__(self, text: str) -> None:
        self.next: dict[tuple[str, str], list[str]] = {}
        self.starts: list[tuple[str, str]] = []
        for sentence in re.split(r"(?<=[.;!?])\s+", " ".join(text.split())):
            tokens = sentence.split()
            if len(tokens) < 6 or not tokens[0][:1].isupper():
                continue
            self.starts.append((tokens[0], tokens[1]))
            for a, b, c in zip(tokens, tokens[1:], tokens[2:]):
                self.next.setdefault((a, b), []).append(c)
        if not self.starts:
            raise ValueError("the training text has no usable sentences")

    def sentence(self, rng: random.Random, max_words: int = 38) -> str:
        a, b = rng.choice(self.starts)
        out = [a, b]
        while len(out) < max_words:
            options = self.next.get((a, b))
            if not options:
                break
            c = rng.choice(options)
            out.append(c)
            a, b = b, c
            if c[-1:] in ".!?" and len(out) >= 8:
                break
        text = " ".join(out).rstrip(",;:—-")
        return text if text[-1:] in ".!?" else text + "."


def load_vocab(path: Path = VOCAB_FILE) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def training_text(corpus_dir: Path = ROOT / "corpus") -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in sorted(corpus_dir.glob("*.txt")))


def euro(amount: float) -> str:
    """Italian money format: 1.234.567,00."""
    whole, cents = f"{amount:,.2f}".split(".")
    return whole.replace(",", ".") + "," + cents


class PlanWriter:
    """Writes plan-like documents, questions and chunk texts, all reproducible by seed."""

    def __init__(self, seed: int = 7, vocab: dict | None = None,
                 chain: WordChain | None = None) -> None:
        if not isinstance(seed, int):
            raise ValueError(f"seed must be an int, got {seed!r}")
        self.seed = seed
        self.vocab = vocab or load_vocab()
        self.chain = chain or WordChain(training_text())
        self.ambiti = sorted(self.vocab["ambiti"])

    def rng(self, *salt: object) -> random.Random:
        return random.Random(f"{self.seed}:" + ":".join(map(str, salt)))

    # ---- content ---------------------------------------------------------------------------
    def fact(self, rng: random.Random, ambito: str, year: int) -> str:
        name, acro, target = rng.choice(self.vocab["services"])
        comune = rng.choice(self.vocab["ambiti"][ambito])
        fund = rng.choice(self.vocab["funding"])
        amount = euro(rng.randrange(8, 2000) * 500)
        users = rng.randrange(12, 900)
        forms = (
            f"Per il {name} ({acro}) l'Ambito di {ambito} destina € {amount} a valere sul "
            f"{fund} per l'annualità {year}.",
            f"Nel {year} il {acro} ha preso in carico {users} {target} residenti nei comuni "
            f"dell'ambito, di cui {users // 3} a {comune}.",
            f"Il {name} è rivolto a {target}; la domanda si presenta al Punto unico di accesso "
            f"del Comune di {comune}, tel. 0{rng.randrange(800, 999)} "
            f"{rng.randrange(100000, 999999)}.",
            f"Il servizio {acro} è garantito dal lunedì al venerdì dalle ore 9:00 alle 13:00 "
            f"presso la sede di {comune}.",
            f"Referente del {acro}: servizi.sociali@comune.{_slug(comune)}.it.",
            f"L'obiettivo di servizio per il {acro} è pari a {rng.randrange(2, 40)} utenti ogni "
            f"10.000 abitanti entro il {year + 2}.",
        )
        return rng.choice(forms)

    def paragraph(self, rng: random.Random, ambito: str, year: int) -> str:
        parts = [self.chain.sentence(rng) for _ in range(rng.randrange(2, 6))]
        for _ in range(rng.randrange(0, 3)):
            parts.insert(rng.randrange(len(parts) + 1), self.fact(rng, ambito, year))
        return " ".join(parts)

    def table(self, rng: random.Random, year: int) -> Block:
        rows = []
        for name, acro, _target in rng.sample(self.vocab["services"], rng.randrange(4, 10)):
            rows.append((f"{name} ({acro})", rng.choice(self.vocab["funding"]),
                         "€ " + euro(rng.randrange(8, 2000) * 500)))
        return Block("table", f"Tabella – Risorse per intervento, annualità {year}",
                     (("Intervento", "Fonte di finanziamento", "Importo"), *rows))

    def bullet_list(self, rng: random.Random, ambito: str) -> Block:
        items = []
        for name, acro, target in rng.sample(self.vocab["services"], rng.randrange(3, 8)):
            verb = rng.choice(("il consolidamento", "il potenziamento", "l'attivazione",
                               "la riorganizzazione"))
            items.append(f"{verb} del {name} ({acro}) per {target};")
        items[-1] = items[-1].rstrip(";") + "."
        return Block("list", f"L'Ambito di {ambito} prevede:", tuple(items))

    def blocks(self, ambito: str, year: int, doc_type: str, salt: object) -> Iterator[Block]:
        """An endless document: title, contents, then chapters (numbering goes on)."""
        rng = self.rng("doc", salt)
        chapters = self.vocab["chapters"]
        yield Block("title", f"{doc_type.title()} {year}-{year + 2} – Ambito territoriale "
                             f"sociale di {ambito}")
        yield Block("toc", "Indice", tuple(f"{i + 1}. {c}" for i, c in enumerate(chapters)))
        number = 0
        while True:
            number += 1
            chapter = chapters[(number - 1) % len(chapters)]
            yield Block("h1", f"{number}. {chapter.upper() if number % 3 == 0 else chapter}")
            yield Block("p", self.paragraph(rng, ambito, year))
            for s, section in enumerate(rng.sample(self.vocab["sections"], 4), start=1):
                name, acro, _t = rng.choice(self.vocab["services"])
                yield Block("h2", f"{number}.{s} {section}: {name} ({acro})")
                for _ in range(rng.randrange(1, 4)):
                    yield Block("p", self.paragraph(rng, ambito, year))
                roll = rng.random()
                if roll < 0.35:
                    yield self.bullet_list(rng, ambito)
                elif roll < 0.6:
                    yield self.table(rng, year)

    def document_plan(self, index: int) -> dict:
        """Catalog entry of the ``index``-th document of a corpus."""
        rng = self.rng("plan", index)
        ambito = rng.choice(self.ambiti)
        region, province = self.vocab["regions"][ambito]
        year = rng.choice((2019, 2021, 2022, 2023, 2024))
        doc_type = DOC_TYPES[index % len(DOC_TYPES)]
        return {"title": f"{doc_type.title()} {year}-{year + 2} dell'Ambito di {ambito}",
                "type": doc_type, "ambito": ambito, "comuni": list(self.vocab["ambiti"][ambito]),
                "province": province, "region": region, "year": year}

    def questions(self, n: int, salt: object = "q") -> list[str]:
        """``n`` distinct questions in the style of citizens and social workers."""
        rng = self.rng("questions", salt)
        out: list[str] = []
        seen: set[str] = set()
        templates = self.vocab["question_templates"]
        while len(out) < n:
            ambito = rng.choice(self.ambiti)
            name, acro, _t = rng.choice(self.vocab["services"])
            q = rng.choice(templates).format(
                ambito=ambito, comune=rng.choice(self.vocab["ambiti"][ambito]), service=name,
                acronym=acro, year=rng.choice((2021, 2022, 2023)),
                target=rng.choice(self.vocab["targets"]))
            if q not in seen:
                seen.add(q)
                out.append(q)
        return out

    # ---- plain text pages (for stores built without PDFs) ------------------------------
    def text_pages(self, n_pages: int, salt: object = "text", words_per_page: int = 420
                   ) -> Iterator[tuple[dict, list[str]]]:
        """Documents as (catalog entry, page texts), ``n_pages`` pages in all."""
        done, index = 0, 0
        while done < n_pages:
            plan = self.document_plan(index)
            size = min(n_pages - done, self.rng("size", salt, index).randrange(10, 200))
            stream = self.blocks(plan["ambito"], plan["year"], plan["type"], (salt, index))
            pages, current, count = [], [], 0
            for block in stream:
                text = block_text(block)
                current.append(text)
                count += len(text.split())
                if count >= words_per_page:
                    pages.append("\n\n".join(current))
                    current, count = [], 0
                    if len(pages) == size:
                        break
            yield plan, pages
            done += size
            index += 1


def _slug(name: str) -> str:
    return re.sub(r"[^a-z]", "", name.lower())


def block_text(block: Block) -> str:
    """A block as plain text (Markdown-like headings and lists)."""
    if block.kind == "title":
        return f"# {block.text}"
    if block.kind == "h1":
        return f"## {block.text}"
    if block.kind == "h2":
        return f"### {block.text}"
    if block.kind == "toc":
        return block.text + "\n" + "\n".join(block.items)
    if block.kind == "list":
        return block.text + "\n" + "\n".join(f"- {item}" for item in block.items)
    if block.kind == "table":
        return block.text + "\n" + "\n".join(" | ".join(row) for row in block.items)
    return block.text


# ---- PDF layout ------------------------------------------------------------------------------
PAGE_W, PAGE_H, MARGIN = 210.0, 297.0, 20.0
BODY_CHARS = 96  # Helvetica 10 pt over 170 mm


class PdfLayout:
    """Lays blocks out on A4 pages with fpdf2 core fonts (cp1252 covers à è € ’)."""

    def __init__(self, header: str, max_pages: int = 10**6) -> None:
        from fpdf import FPDF

        self.max_pages = max_pages
        self.pdf = FPDF(format="A4", unit="mm")
        self.pdf.core_fonts_encoding = "windows-1252"
        # a fixed date: the same seed gives the same bytes, also across a second boundary
        self.pdf.set_creation_date(datetime(2024, 1, 1, tzinfo=timezone.utc))
        self.pdf.set_auto_page_break(False)
        self.header = header[:110]
        self.y = PAGE_H
        self.pages = 0

    def new_page(self) -> None:
        if self.pages >= self.max_pages:
            raise _PageLimit
        pdf = self.pdf
        pdf.add_page()
        self.pages += 1
        pdf.set_font("Helvetica", "I", 8)
        pdf.text(MARGIN, 12, self.header)
        pdf.text(PAGE_W / 2 - 8, PAGE_H - 10, f"Pagina {self.pages}")
        self.y = MARGIN + 6

    def room(self, mm: float) -> bool:
        return self.y + mm <= PAGE_H - MARGIN

    def line(self, text: str, size: float = 10, style: str = "", indent: float = 0,
             height: float = 5.0) -> None:
        if not self.room(height):
            self.new_page()
        self.pdf.set_font("Helvetica", style, size)
        self.pdf.text(MARGIN + indent, self.y, text)
        self.y += height

    def block(self, block: Block) -> None:
        if block.kind == "title":
            self.y += 40
            for part in textwrap.wrap(block.text, 50):
                self.line(part, 18, "B", height=10)
            self.y = PAGE_H  # contents start on a new page
        elif block.kind == "toc":
            self.line(block.text, 14, "B", height=9)
            for n, item in enumerate(block.items):
                self.line(f"{item} {'.' * (70 - len(item))} {3 + n * 7}", height=6)
            self.y = PAGE_H
        elif block.kind in ("h1", "h2"):
            size, gap = (14, 8) if block.kind == "h1" else (11, 6)
            if not self.room(gap + 15):
                self.new_page()
            self.y += 3
            for part in textwrap.wrap(block.text, 70 if block.kind == "h1" else 85):
                self.line(part, size, "B", height=gap)
        elif block.kind == "p":
            for part in textwrap.wrap(block.text, BODY_CHARS):
                self.line(part)
            self.y += 3
        elif block.kind == "list":
            self.line(block.text)
            for item in block.items:
                for n, part in enumerate(textwrap.wrap(item, BODY_CHARS - 6)):
                    self.line(("• " if n == 0 else "  ") + part, indent=4)
            self.y += 3
        elif block.kind == "table":
            self.table(block)

    def table(self, block: Block) -> None:
        widths = (80.0, 55.0, 35.0)
        rows = block.items
        if not self.room(6 * (len(rows) + 2)):
            self.new_page()
        self.line(block.text, 9, "B", height=6)
        pdf = self.pdf
        for r, row in enumerate(rows):
            top = self.y - 4
            x = MARGIN
            pdf.set_font("Helvetica", "B" if r == 0 else "", 9)
            for w, cell in zip(widths, row):
                cell = cell if len(cell) * 1.75 < w else cell[: int(w / 1.75) - 1] + "…"
                pdf.text(x + 1, self.y, cell)
                pdf.rect(x, top, w, 6)
                x += w
            self.y += 6
        self.y += 4

    def output(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(bytes(self.pdf.output()))


class _PageLimit(Exception):
    pass


def write_pdf(writer: PlanWriter, path: Path, pages: int, plan: dict, salt: object) -> int:
    """A plan-like PDF of exactly ``pages`` pages (the last one is cut where the limit
    falls); returns the page count."""
    if pages < 1:
        raise ValueError(f"pages must be >= 1, got {pages!r}")
    layout = PdfLayout(plan["title"], max_pages=pages)
    try:
        for block in writer.blocks(plan["ambito"], plan["year"], plan["type"], salt):
            layout.block(block)
    except _PageLimit:
        pass
    layout.output(path)
    return layout.pages


def write_text(writer: PlanWriter, path: Path, words: int, plan: dict, salt: object) -> None:
    parts, count = [], 0
    for block in writer.blocks(plan["ambito"], plan["year"], plan["type"], salt):
        text = block_text(block)
        parts.append(text)
        count += len(text.split())
        if count >= words:
            break
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n\n".join(parts) + "\n", encoding="utf-8")


def pdf_sizes(total_pages: int, rng: random.Random, low: int = 10, high: int = 500
              ) -> list[int]:
    """Page counts between ``low`` and ``high`` summing to ``total_pages`` (many small
    documents, a few large ones, as in a real archive of plans)."""
    if total_pages < low:
        raise ValueError(f"total_pages must be >= {low}, got {total_pages!r}")
    sizes: list[int] = []
    left = total_pages
    while left > 0:
        size = int(min(high, max(low, rng.lognormvariate(4.0, 1.0))))
        if left - size < low:
            size = left if left <= high else left - low
        sizes.append(size)
        left -= size
    return sizes


def make_corpus(folder: Path, pdf_pages: int, seed: int = 7, text_files: int = 6,
                text_words: int = 6000, writer: PlanWriter | None = None) -> dict:
    """Write PDFs totalling ``pdf_pages`` pages, some text files and ``catalog.yaml``."""
    writer = writer or PlanWriter(seed)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    sizes = pdf_sizes(pdf_pages, writer.rng("sizes", pdf_pages))
    catalog: dict[str, dict] = {}
    written = 0
    for index, size in enumerate(sizes):
        plan = writer.document_plan(index)
        name = f"pdf/{index:03d}_{_slug(plan['ambito'])}_{plan['year']}.pdf"
        written += write_pdf(writer, folder / name, size, plan, ("pdf", index))
        catalog[name] = plan
    for index in range(text_files):
        plan = writer.document_plan(1000 + index)
        name = f"testi/{index:03d}_{_slug(plan['ambito'])}.txt"
        write_text(writer, folder / name, text_words, plan, ("txt", index))
        catalog[name] = plan
    (folder / "catalog.yaml").write_text(
        yaml.safe_dump({"documents": catalog}, allow_unicode=True, sort_keys=True),
        encoding="utf-8")
    return {"pdf_files": len(sizes), "pdf_pages": written, "text_files": text_files,
            "sizes": sizes}
