/* Compiled record path of `virnucpro prepare` (optional accelerator; the numpy path in prepare.py /
 * translation.py is the fallback, and both are tested against reference_prepare.py).
 *
 * split_fasta(buf)            -> (ids, seqs) or None: FASTA records of a block of whole records, parsed
 *                                as dnaio's FastaReader does (universal newlines, strip, '#' lines
 *                                skipped); None if the block is not plain ASCII FASTA (caller falls
 *                                back to dnaio). IDs are the header's first whitespace-separated word.
 * format_prepared(ids, seqs, cs, chunks, nucleotides, proteins)
 *                             -> (bytes used in each bytearray, n_chunks, n_frames): the text of the original's
 *                                three preparation files for these records, written into reused bytearrays.
 * IdSet().add(ids)            -> index of the first repeated ID or -1 (64-bit hashes, open addressing).
 *
 * Rules (spec/pipeline.md §2-3): overlapping chunks in closed form; uppercase; reverse strand = reverse
 * of the A<->T, C<->G swap (other bytes unchanged); codons at f, f+3, ... while i <= len-3; a codon
 * with anything but ACGT translates to nothing; a frame is kept iff its protein is non-empty and
 * stop-free; its nucleotide slice is t[f : f + 1 + 3*len(protein)], clipped.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char AMINO[] = "FFLLSSSSYY**CC*WLLLLPPPPHHQQRRRRIIIMTTTTNNKKSSRRVVVVAAAADDEEGGGG"; /* TCAG order */
static unsigned char UPPER[256], CODE[256], COMP[256], IS_WS[256];
static char FAA[125], RAA[125]; /* 5-ary codon (25a + 5b + c, A0 C1 G2 T3 N4) -> amino acid of it / of its
                                  reverse complement; 0 = dropped */

static void init_tables(void) {
    const char *tcag = "TCAG", *acgt = "ACGT";
    for (int i = 0; i < 256; i++) {
        UPPER[i] = (i >= 'a' && i <= 'z') ? (unsigned char)(i - 32) : (unsigned char)i;
        CODE[i] = 4;
        COMP[i] = (unsigned char)i;
        IS_WS[i] = 0;
    }
    for (int i = 0; i < 4; i++) {
        CODE[(unsigned char)acgt[i]] = (unsigned char)i;
        CODE[(unsigned char)(acgt[i] + 32)] = (unsigned char)i;
    }
    COMP['A'] = 'T'; COMP['T'] = 'A'; COMP['C'] = 'G'; COMP['G'] = 'C';
    /* str.isspace() for ASCII: the characters str.strip() and str.split() treat as whitespace */
    const char ws[] = {' ', '\t', '\n', '\r', 0x0b, 0x0c, 0x1c, 0x1d, 0x1e, 0x1f};
    for (size_t i = 0; i < sizeof ws; i++) IS_WS[(unsigned char)ws[i]] = 1;
    for (int c = 0; c < 125; c++) FAA[c] = RAA[c] = 0;
    for (int a = 0; a < 4; a++)
        for (int b = 0; b < 4; b++)
            for (int c = 0; c < 4; c++) {
                int ia = (int)(strchr(tcag, acgt[a]) - tcag), ib = (int)(strchr(tcag, acgt[b]) - tcag),
                    ic = (int)(strchr(tcag, acgt[c]) - tcag);
                FAA[25 * a + 5 * b + c] = AMINO[16 * ia + 4 * ib + ic];
            }
    for (int a = 0; a < 4; a++) /* reverse complement in ACGT codes: (a, b, c) -> (3 - c, 3 - b, 3 - a) */
        for (int b = 0; b < 4; b++)
            for (int c = 0; c < 4; c++) RAA[25 * a + 5 * b + c] = FAA[25 * (3 - c) + 5 * (3 - b) + (3 - a)];
}

/* ---------- growable byte buffer ---------- */

typedef struct {
    char *p;
    Py_ssize_t n, cap;
    int fixed; /* p is the storage of a bytes object sized in advance: never reallocated */
} Buf;

static int reserve(Buf *b, Py_ssize_t extra) {
    if (b->n + extra <= b->cap) return 0;
    if (b->fixed) return -1;
    Py_ssize_t cap = b->cap ? b->cap : (Py_ssize_t)1 << 16;
    while (cap < b->n + extra) cap *= 2;
    char *p = realloc(b->p, (size_t)cap);
    if (!p) return -1;
    b->p = p;
    b->cap = cap;
    return 0;
}

static inline void put(Buf *b, const char *s, Py_ssize_t n) {
    memcpy(b->p + b->n, s, (size_t)n);
    b->n += n;
}

static inline void put_int(Buf *b, long long v) {
    char tmp[24];
    int k = 0;
    do { tmp[k++] = (char)('0' + v % 10); v /= 10; } while (v);
    while (k) b->p[b->n++] = tmp[--k];
}

static PyObject *ascii_str(const char *s, Py_ssize_t n) {
    PyObject *o = PyUnicode_New(n, 127);
    if (o) memcpy(PyUnicode_DATA(o), s, (size_t)n);
    return o;
}

/* ---------- split_fasta ---------- */

static int is_ascii(const unsigned char *s, Py_ssize_t n) {
    Py_ssize_t i = 0;
    uint64_t any = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        any |= w;
    }
    for (; i < n; i++) any |= s[i];
    return !(any & 0x8080808080808080ULL);
}

/* End of the line starting at pos: the first '\n' or '\r' (universal newlines; the empty line between
 * the two bytes of "\r\n" is skipped like any blank line). */
static Py_ssize_t line_end(const unsigned char *s, Py_ssize_t pos, Py_ssize_t n) {
    const unsigned char *nl = memchr(s + pos, '\n', (size_t)(n - pos));
    Py_ssize_t end = nl ? nl - s : n;
    const unsigned char *cr = memchr(s + pos, '\r', (size_t)(end - pos));
    return cr ? cr - s : end;
}

typedef struct {
    PyObject *ids, *seqs;
    Buf scratch;            /* a multi-line sequence, joined */
    const char *first;      /* the first sequence line, used in place when it is the only one */
    Py_ssize_t first_n;
    int lines, in_record, joined; /* joined: the sequence so far is in scratch (not `first` in place) */
} Split;

static int add_str(PyObject *list, const char *p, Py_ssize_t n) {
    PyObject *o = ascii_str(p, n);
    if (!o) return -1;
    int r = PyList_Append(list, o);
    Py_DECREF(o);
    return r;
}

static int finish_record(Split *sp) {
    if (!sp->in_record) return 0;
    if (sp->joined) return add_str(sp->seqs, sp->scratch.p, sp->scratch.n);
    return add_str(sp->seqs, sp->lines ? sp->first : "", sp->lines ? sp->first_n : 0);
}

/* Move the record's sequence so far into scratch (once), so that more text can be appended to it. */
static int start_join(Split *sp) {
    if (sp->joined) return 0;
    sp->scratch.n = 0;
    if (sp->lines == 1) {
        if (reserve(&sp->scratch, sp->first_n) < 0) return -1;
        put(&sp->scratch, sp->first, sp->first_n);
    }
    sp->joined = 1;
    return 0;
}

/* Any byte below '!' (space, tab, other controls) in ASCII text: 8 bytes per step (SWAR "byte < 0x21"). */
static int has_blank(const unsigned char *s, Py_ssize_t n) {
    Py_ssize_t i = 0;
    uint64_t any = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        any |= (w - 0x2121212121212121ULL) & ~w;
    }
    if (any & 0x8080808080808080ULL) return 1;
    for (; i < n; i++)
        if (s[i] < 0x21) return 1;
    return 0;
}

/* A sequence line (edge whitespace already stripped). Spaces and tabs inside it are dropped, as Biopython's
 * FASTA parser drops them; a line without them (the usual case) costs one word-wise scan. Other control
 * bytes are kept, and refused later by seqio's control-byte check. */
static int add_line(Split *sp, const char *p, Py_ssize_t n) {
    int spaced = has_blank((const unsigned char *)p, n);
    if (sp->lines == 0 && !spaced) {
        sp->first = p;
        sp->first_n = n;
    } else {
        if (start_join(sp) < 0 || reserve(&sp->scratch, n) < 0) return -1;
        if (!spaced) {
            put(&sp->scratch, p, n);
        } else {
            for (Py_ssize_t i = 0; i < n; i++)
                if (p[i] != ' ' && p[i] != '\t') sp->scratch.p[sp->scratch.n++] = p[i];
        }
    }
    sp->lines++;
    return 0;
}

/* Returns 1 if parsed, 0 if the block is not for this parser (text before the first header), -1 on error. */
static int split_lines(Split *sp, const unsigned char *s, Py_ssize_t n) {
    for (Py_ssize_t pos = 0; pos < n;) {
        Py_ssize_t end = line_end(s, pos, n), a = pos, b = end;
        while (a < b && IS_WS[s[a]]) a++; /* str.strip() */
        while (b > a && IS_WS[s[b - 1]]) b--;
        if (a < b && s[a] == '>') {
            if (finish_record(sp) < 0) return -1;
            for (Py_ssize_t j = a + 1; j < b; j++) { /* a header goes back out in viral.fa: no control byte but tab */
                if ((s[j] < 0x20 && s[j] != '\t' && s[j] != 0x01) || s[j] == 0x7f) { /* and NCBI's ^A separator */
                    PyErr_Format(PyExc_ValueError, "header-control:%zd:%d", PyList_GET_SIZE(sp->ids), (int)s[j]);
                    return -1;
                }
            }
            Py_ssize_t i0 = a + 1, i1;
            while (i0 < b && IS_WS[s[i0]]) i0++;
            for (i1 = i0; i1 < b && !IS_WS[s[i1]]; i1++) {}
            if (add_str(sp->ids, (const char *)s + i0, i1 - i0) < 0) return -1; /* ID: first word of the header */
            sp->in_record = 1;
            sp->lines = 0;
            sp->joined = 0;
        } else if (a < b && s[a] != '#') {
            if (!sp->in_record) return 0;
            if (add_line(sp, (const char *)s + a, b - a) < 0) { PyErr_NoMemory(); return -1; }
        }
        pos = end + 1;
    }
    return finish_record(sp) < 0 ? -1 : 1;
}

static PyObject *split_fasta(PyObject *self, PyObject *arg) {
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0) return NULL;
    if (!is_ascii(view.buf, view.len)) { PyBuffer_Release(&view); Py_RETURN_NONE; } /* dnaio decides */
    Split sp = {PyList_New(0), PyList_New(0)};
    int r = sp.ids && sp.seqs ? split_lines(&sp, view.buf, view.len) : -1;
    free(sp.scratch.p);
    PyBuffer_Release(&view);
    if (r == 1) return Py_BuildValue("(NN)", sp.ids, sp.seqs);
    Py_XDECREF(sp.ids);
    Py_XDECREF(sp.seqs);
    if (r == 0) Py_RETURN_NONE;
    return NULL;
}

/* ---------- format_prepared ---------- */

typedef struct {
    const char *p;
    Py_ssize_t n;
} Str;

static int utf8_items(PyObject *tuple, Str *out, Py_ssize_t count) {
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *o = PyTuple_GET_ITEM(tuple, i);
        if (!PyUnicode_Check(o)) { PyErr_SetString(PyExc_TypeError, "expected a list of str"); return -1; }
        out[i].p = PyUnicode_AsUTF8AndSize(o, &out[i].n);
        if (!out[i].p) return -1;
    }
    return 0;
}

static const char *FRAME_NAMES[6] = {"F1", "F2", "F3", "R1", "R2", "R3"};

/* Protein of one frame from the chunk's codon indices cod[p] (codon at p..p+2, p <= n-3): forward frame f
 * reads p = f, f+3, ...; reverse frame f reads the reverse strand at j = f, f+3, ..., i.e. p = n-3-j with the
 * reverse-complement table. Returns the protein length, or -1 at the first stop codon. */
static Py_ssize_t translate_frame(const unsigned char *cod, Py_ssize_t n, int f, int reverse, char *prot) {
    Py_ssize_t k = 0;
    const char *table = reverse ? RAA : FAA;
    for (Py_ssize_t j = f; j + 3 <= n; j += 3) {
        char aa = table[cod[reverse ? n - 3 - j : j]];
        if (aa == '*') return -1;
        if (aa) prot[k++] = aa;
    }
    return k;
}

typedef struct {
    Buf chunks, nuc, prot;
    unsigned char *fwd, *rev, *cod; /* per-chunk scratch: uppercase strand, reverse strand, codon indices */
    char *aa;
    long long n_chunks, n_frames;
} Out;

static void frame_record(Buf *b, const char *name, Py_ssize_t name_len, int fr, const char *seq, Py_ssize_t n) {
    b->p[b->n++] = '>';
    put(b, name, name_len);
    put(b, FRAME_NAMES[fr], 2);
    b->p[b->n++] = '\n';
    put(b, seq, n);
    b->p[b->n++] = '\n';
}

static int emit_chunk(Out *o, Str id, long long number, const char *c, Py_ssize_t n) {
    Py_ssize_t head = id.n + 7 + 20 + 2; /* ">" id "_chunk_" number + frame name */
    if (reserve(&o->chunks, head + n + n / 60 + 2) < 0) return -1;
    Buf *b = &o->chunks;
    b->p[b->n++] = '>';
    Py_ssize_t name_at = b->n;
    put(b, id.p, id.n);
    put(b, "_chunk_", 7);
    put_int(b, number);
    Py_ssize_t name_len = b->n - name_at;
    b->p[b->n++] = '\n';
    for (Py_ssize_t i = 0; i < n; i += 60) {
        Py_ssize_t w = n - i < 60 ? n - i : 60;
        put(b, c + i, w);
        b->p[b->n++] = '\n';
    }
    o->n_chunks++;
    if (n < 3) return 0;

    unsigned char *cod = o->cod;
    unsigned int c0 = CODE[(unsigned char)c[0]], c1 = CODE[(unsigned char)c[1]];
    for (Py_ssize_t i = 0; i + 2 < n; i++) {
        unsigned int c2 = CODE[(unsigned char)c[i + 2]];
        cod[i] = (unsigned char)(25 * c0 + 5 * c1 + c2);
        c0 = c1;
        c1 = c2;
    }
    if (reserve(&o->nuc, 6 * (name_len + 5 + n + 2)) < 0 || reserve(&o->prot, 6 * (name_len + 5 + n / 3 + 2)) < 0)
        return -1;
    const char *name = o->chunks.p + name_at; /* stable: o->chunks is not resized below */
    int have_fwd = 0, have_rev = 0;
    for (int fr = 0; fr < 6; fr++) {
        int f = fr % 3, reverse = fr >= 3;
        Py_ssize_t plen = translate_frame(cod, n, f, reverse, o->aa);
        if (plen <= 0) continue;
        if (!reverse && !have_fwd) {
            for (Py_ssize_t i = 0; i < n; i++) o->fwd[i] = UPPER[(unsigned char)c[i]];
            have_fwd = 1;
        }
        if (reverse && !have_rev) {
            for (Py_ssize_t i = 0; i < n; i++) o->rev[n - 1 - i] = COMP[UPPER[(unsigned char)c[i]]];
            have_rev = 1;
        }
        Py_ssize_t stop = f + 1 + 3 * plen;
        if (stop > n) stop = n;
        frame_record(&o->nuc, name, name_len, fr, (const char *)(reverse ? o->rev : o->fwd) + f, stop - f);
        frame_record(&o->prot, name, name_len, fr, o->aa, plen);
        o->n_frames++;
    }
    return 0;
}

/* The original's chunk rule in closed form: n = ceil(L/cs), R = n*cs - L, q = R // n, k = R - q*(n-1). */
static int emit_record(Out *o, Str id, Str seq, long long cs) {
    long long L = seq.n, n = (L + cs - 1) / cs, R = n * cs - L, q = R / n, k = R - q * (n - 1);
    for (long long i = 0; i < n; i++) {
        long long start = i * (cs - q) - (i < k ? i : k), end = start + cs < L ? start + cs : L;
        if (emit_chunk(o, id, i + 1, seq.p + start, (Py_ssize_t)(end - start)) < 0) return -1;
    }
    return 0;
}

/* Upper bounds of the three outputs' sizes for these records (so they are written in place, no copies). */
static void output_bounds(const Str *ids, const Str *seqs, Py_ssize_t count, long long cs, Py_ssize_t bound[3]) {
    bound[0] = bound[1] = bound[2] = 0;
    for (Py_ssize_t i = 0; i < count; i++) {
        Py_ssize_t L = seqs[i].n, n = (Py_ssize_t)((L + cs - 1) / cs), c = L < cs ? L : (Py_ssize_t)cs;
        Py_ssize_t head = ids[i].n + 32; /* ">" id "_chunk_" number frame "\n" */
        bound[0] += n * (head + c + c / 60 + 2);
        bound[1] += n * 6 * (head + c + 2);
        bound[2] += n * 6 * (head + c / 3 + 2);
    }
}

static PyObject *format_prepared(PyObject *self, PyObject *args) {
    PyObject *ids, *seqs, *outs[3];
    long long cs;
    if (!PyArg_ParseTuple(args, "O!O!LO!O!O!", &PyList_Type, &ids, &PyList_Type, &seqs, &cs, &PyByteArray_Type,
                          &outs[0], &PyByteArray_Type, &outs[1], &PyByteArray_Type, &outs[2]))
        return NULL;
    Py_ssize_t count = PyList_GET_SIZE(ids);
    if (PyList_GET_SIZE(seqs) != count) { PyErr_SetString(PyExc_ValueError, "ids and seqs differ in length"); return NULL; }
    if (cs <= 0) { PyErr_SetString(PyExc_ValueError, "chunk size must be positive"); return NULL; }
    Str *items = malloc(sizeof(Str) * (size_t)(2 * count + 1));
    Out o = {0};
    PyObject *result = NULL;
    Buf *bufs[3] = {&o.chunks, &o.nuc, &o.prot};
    /* own references to every string for the GIL-free part (the caller's lists could change meanwhile) */
    PyObject *held_ids = PySequence_Tuple(ids), *held_seqs = held_ids ? PySequence_Tuple(seqs) : NULL;
    if (!items) { Py_XDECREF(held_ids); Py_XDECREF(held_seqs); return PyErr_NoMemory(); }
    if (!held_seqs) goto done;
    if (utf8_items(held_ids, items, count) < 0 || utf8_items(held_seqs, items + count, count) < 0) goto done;
    Py_ssize_t longest = 1, bound[3];
    for (Py_ssize_t i = 0; i < count; i++) {
        if (items[count + i].n == 0) { PyErr_SetString(PyExc_ValueError, "empty sequence"); goto done; }
        Py_ssize_t c = items[count + i].n < cs ? items[count + i].n : (Py_ssize_t)cs;
        if (c > longest) longest = c;
    }
    output_bounds(items, items + count, count, cs, bound);
    for (int k = 0; k < 3; k++) { /* grow only: the caller reuses these buffers, so their pages stay mapped */
        if (PyByteArray_GET_SIZE(outs[k]) < bound[k] && PyByteArray_Resize(outs[k], bound[k]) < 0) goto done;
        *bufs[k] = (Buf){PyByteArray_AS_STRING(outs[k]), 0, PyByteArray_GET_SIZE(outs[k]), 1};
    }
    o.fwd = malloc((size_t)longest);
    o.rev = malloc((size_t)longest);
    o.cod = malloc((size_t)longest);
    o.aa = malloc((size_t)longest / 3 + 1);
    if (!o.fwd || !o.rev || !o.cod || !o.aa) { PyErr_NoMemory(); goto done; }
    int err = 0;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < count && !err; i++) err = emit_record(&o, items[i], items[count + i], cs);
    Py_END_ALLOW_THREADS
    if (err) { PyErr_SetString(PyExc_RuntimeError, "internal error: output bound exceeded"); goto done; }
    result = Py_BuildValue("(nnnLL)", o.chunks.n, o.nuc.n, o.prot.n, o.n_chunks, o.n_frames);
done:
    Py_XDECREF(held_ids);
    Py_XDECREF(held_seqs);
    free(items);
    free(o.fwd);
    free(o.rev);
    free(o.cod);
    free(o.aa);
    return result;
}

/* ---------- IdSet: duplicate-ID detection on 64-bit hashes (open addressing, load 0.35-0.7) ---------- */

typedef struct {
    PyObject_HEAD
    uint64_t *slots; /* 0 = empty (hashes are forced non-zero) */
    Py_ssize_t cap, used;
} IdSet;

static inline uint64_t mix64(uint64_t z) { /* splitmix64 finaliser */
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t hash_bytes(const char *p, Py_ssize_t n) {
    uint64_t h = mix64(0x9e3779b97f4a7c15ULL ^ (uint64_t)n);
    Py_ssize_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        h = mix64(h ^ w) + 0x9e3779b97f4a7c15ULL;
    }
    uint64_t w = 0;
    memcpy(&w, p + i, (size_t)(n - i));
    h = mix64(h ^ w ^ ((uint64_t)(n - i) << 56));
    return h ? h : 1;
}

static int idset_grow(IdSet *s) {
    Py_ssize_t cap = s->cap ? 2 * s->cap : 1 << 16;
    uint64_t *slots = calloc((size_t)cap, sizeof(uint64_t));
    if (!slots) return -1;
    for (Py_ssize_t i = 0; i < s->cap; i++) {
        uint64_t h = s->slots[i];
        if (!h) continue;
        Py_ssize_t j = (Py_ssize_t)(h & (uint64_t)(cap - 1));
        while (slots[j]) j = (j + 1) & (cap - 1);
        slots[j] = h;
    }
    free(s->slots);
    s->slots = slots;
    s->cap = cap;
    return 0;
}

/* add(ids) -> index of the first ID already present (earlier in this list or in an earlier call), or -1
 * (the IDs before it stay added; callers stop at a duplicate). Load factor <= 0.7. */
static PyObject *idset_add(IdSet *s, PyObject *ids) {
    if (!PyList_Check(ids)) { PyErr_SetString(PyExc_TypeError, "expected a list of str"); return NULL; }
    Py_ssize_t n = PyList_GET_SIZE(ids);
    while (10 * (s->used + n) > 7 * s->cap)
        if (idset_grow(s) < 0) return PyErr_NoMemory();
    uint64_t *hs = malloc(sizeof(uint64_t) * (size_t)(n + 1));
    if (!hs) return PyErr_NoMemory();
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *o = PyList_GET_ITEM(ids, i);
        Py_ssize_t len;
        const char *p = PyUnicode_Check(o) ? PyUnicode_AsUTF8AndSize(o, &len) : NULL;
        if (!p) {
            if (!PyErr_Occurred()) PyErr_SetString(PyExc_TypeError, "expected a list of str");
            free(hs);
            return NULL;
        }
        hs[i] = hash_bytes(p, len);
    }
    uint64_t mask = (uint64_t)(s->cap - 1);
    Py_ssize_t found = -1;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (i + 16 < n) __builtin_prefetch(&s->slots[hs[i + 16] & mask], 1); /* hide the cache miss of a big table */
        uint64_t h = hs[i];
        Py_ssize_t j = (Py_ssize_t)(h & mask);
        while (s->slots[j] && s->slots[j] != h) j = (j + 1) & (s->cap - 1);
        if (s->slots[j]) { found = i; break; }
        s->slots[j] = h;
        s->used++;
    }
    free(hs);
    return PyLong_FromSsize_t(found);
}

static void idset_dealloc(IdSet *s) {
    free(s->slots);
    Py_TYPE(s)->tp_free((PyObject *)s);
}

static PyMethodDef idset_methods[] = {
    {"add", (PyCFunction)idset_add, METH_O,
     "add(ids) -> index of the first ID seen before (in this list or an earlier one), or -1."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject IdSetType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "virnucpro._prep.IdSet",
    .tp_basicsize = sizeof(IdSet),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Set of 64-bit ID hashes for duplicate detection (false alarm ~ n^2 / 2^65).",
    .tp_new = PyType_GenericNew,
    .tp_dealloc = (destructor)idset_dealloc,
    .tp_methods = idset_methods,
};

/* first_control(strs) -> index of the first str holding a C0 control byte or DEL (corrupt input), or -1.
 * Branch-free per string so the compiler vectorises it: the check costs ~nothing next to parsing. */
static PyObject *first_control(PyObject *self, PyObject *list) {
    if (!PyList_Check(list)) { PyErr_SetString(PyExc_TypeError, "expected a list of str"); return NULL; }
    Py_ssize_t n = PyList_GET_SIZE(list);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *o = PyList_GET_ITEM(list, i);
        Py_ssize_t len;
        const unsigned char *p = PyUnicode_Check(o) ? (const unsigned char *)PyUnicode_AsUTF8AndSize(o, &len) : NULL;
        if (!p) {
            if (!PyErr_Occurred()) PyErr_SetString(PyExc_TypeError, "expected a list of str");
            return NULL;
        }
        unsigned char bad = 0;
        for (Py_ssize_t j = 0; j < len; j++) bad |= (unsigned char)((p[j] < 32) | (p[j] == 127));
        if (bad) return PyLong_FromSsize_t(i);
    }
    return PyLong_FromSsize_t(-1);
}

static PyMethodDef methods[] = {
    {"first_control", first_control, METH_O,
     "first_control(strs) -> index of the first str with a control byte (0x00-0x1f, 0x7f), or -1."},
    {"split_fasta", split_fasta, METH_O, "split_fasta(buf) -> (ids, seqs) | None: FASTA records of whole-record text."},
    {"format_prepared", format_prepared, METH_VARARGS,
     "format_prepared(ids, seqs, chunk_size, chunks, nucleotides, proteins) -> (bytes used in each of the three "
     "bytearrays, n_chunks, n_frames): the three files' text for these records, written into reused buffers."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_prep", "Compiled record path of virnucpro prepare.", -1,
                                    methods};

PyMODINIT_FUNC PyInit__prep(void) {
    init_tables();
    if (PyType_Ready(&IdSetType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (!m) return NULL;
    Py_INCREF(&IdSetType);
    if (PyModule_AddObject(m, "IdSet", (PyObject *)&IdSetType) < 0) {
        Py_DECREF(&IdSetType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
