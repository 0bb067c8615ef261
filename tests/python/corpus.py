"""The shared pipeline-parity inputs: 32 short texts (empty, one character, accents, CJK,
emoji, punctuation, numbers, whitespace), a text longer than the tiny models' 64 positions,
masked texts (one or several masks), text pairs and question / context pairs."""
LONG = " ".join(["the quick brown fox jumps over the lazy dog"] * 12)  # > 64 tokens

TEXTS = [
    "", "a", "x", "!", "hello world", "hello world, this is torchless running bert from c",
    "the quick brown fox jumps over the lazy dog", "a journey of a thousand miles begins with a single step",
    "café naïve résumé über straße", "numbers 0 1 2 3 4 5 6 7 8 9 10 42 3.14",
    "machine learning models transform text into vectors", "东京 北京 上海 ソウル 서울",
    "punctuation! question? (parentheses) [brackets] {braces}", "HELLO WORLD", "Hello, World!",
    "don't stop", "zzzz qqqq", "the the the the", "fox", "brown dog jumps",
    "a single step begins", "vectors into text", "über café", "3.14 is pi", "learning c from bert",
    "lazy lazy fox", "  spaced   out  ", "tab\tseparated", "new\nline", "emoji 🙂 here",
    "the lazy dog sleeps over the quick fox", "miles and miles of text",
]

# A mask in every non-blank text (after its first word), plus masks alone and several.
MASKED = [t.replace(" ", " [MASK] ", 1) if " " in t else t + " [MASK]" for t in TEXTS if t.strip()] + [
    "[MASK]", "[MASK] [MASK]", "the [MASK] fox [MASK] over the [MASK] dog", "hello [MASK].",
]

PAIRS = [[TEXTS[i], TEXTS[-1 - i]] for i in range(len(TEXTS))] + [
    ["", ""], ["a", ""], ["", "a"], ["hello world", LONG], [LONG, LONG], [LONG, "x"],
]

CONTEXT = ("the quick brown fox jumps over the lazy dog . a journey of a thousand miles begins with a "
           "single step . hello world , this is torchless running bert from c . machine learning models "
           "transform text into vectors . numbers 0 1 2 3 4 5 6 7 8 9 10 42 3.14")
LONG_CONTEXT = " ".join([CONTEXT] * 3)
QUESTIONS = ["what jumps over the dog?", "who runs bert?", "how long is the journey?", "what is 3.14?",
             "where is the fox?", "what do models transform?", "which numbers?", "a", "hello?",
             "is this c?"]
# (question, context): every question on the two contexts, then the corpus texts as contexts
QA_INPUTS = [(q, c) for c in (CONTEXT, LONG_CONTEXT) for q in QUESTIONS] + [
    (QUESTIONS[i % len(QUESTIONS)], t) for i, t in enumerate(TEXTS) if t.strip()][::2]
