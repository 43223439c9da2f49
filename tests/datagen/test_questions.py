"""Parsing the create and verify replies (good, partial, garbage), normalised duplicates, n-gram contamination."""

import pytest

from mathlit.datagen.questions import NgramIndex, fields, ngrams, normalise, parse_created, parse_verified

GOOD = """CREATED QUESTION: Tom has 3 apples and buys 4 more. How many apples does he have?
VERIFICATION AND MODIFICATION: 3 + 4 = 7. The question asks one thing; no change needed.
FINAL CREATED QUESTION: Tom has 3 apples and buys 4 more apples. How many apples does Tom have now?"""


def test_a_good_verify_reply_gives_the_final_question_and_the_verification():
    parsed = parse_verified(GOOD)
    assert parsed.question == "Tom has 3 apples and buys 4 more apples. How many apples does Tom have now?"
    assert parsed.verification.startswith("3 + 4 = 7.") and parsed.reason == ""


def test_headers_may_carry_markdown_and_any_case_and_span_lines():
    reply = "**Created Question**: A?\n## verification and modification:\nfine\n"
    reply += "**FINAL CREATED QUESTION:**\nLine one.\nLine two?"
    assert fields(reply) == {
        "CREATED QUESTION": "A?",
        "VERIFICATION AND MODIFICATION": "fine",
        "FINAL CREATED QUESTION": "Line one.\nLine two?",
    }


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        ("CREATED QUESTION: A?\nVERIFICATION AND MODIFICATION: it is fine", "no FINAL CREATED QUESTION field"),
        ("CREATED QUESTION: A?\nFINAL CREATED QUESTION:   \n", "empty FINAL CREATED QUESTION"),
        ("FINAL CREATED QUESTION: How many? 3+4=7\n#### 7", "FINAL CREATED QUESTION contains a solution"),
        ("\x00\x01 <<<>>> 12 apples apples apples", "no FINAL CREATED QUESTION field"),
        ("", "no FINAL CREATED QUESTION field"),
    ],
    ids=["partial", "empty field", "with solution", "garbage", "empty"],
)
def test_a_bad_verify_reply_is_rejected_with_its_reason(reply, reason):
    assert parse_verified(reply).question is None and parse_verified(reply).reason == reason


def test_a_create_reply_is_its_field_or_the_whole_text():
    assert parse_created("CREATED QUESTION: How many cats?\n").question == "How many cats?"
    assert parse_created("  How many dogs?  ").question == "How many dogs?"
    assert parse_created("VERIFICATION AND MODIFICATION: x").reason == "no CREATED QUESTION field"
    assert parse_created("   ").reason == "empty reply"
    assert parse_created("It is \\boxed{3}").reason == "reply contains a solution"


def test_normalised_text_ignores_case_punctuation_and_spacing_but_not_numbers():
    assert normalise("Tom has 3 apples.  How many?") == normalise("tom HAS 3 apples how many")
    assert normalise("Tom has 3 apples.") != normalise("Tom has 4 apples.")
    assert normalise("It costs $2.50, total?") == "it costs 2.50 total"


def test_ngrams_of_a_short_text_are_the_whole_text():
    assert ngrams("a b c", 2) == {("a", "b"), ("b", "c")}
    assert ngrams("a b", 5) == {("a", "b")} and ngrams("?!", 3) == set()


def test_the_closest_test_question_is_the_one_sharing_most_ngrams():
    tests = [
        "Janet has 16 ducks that lay eggs every day and she sells them at the market",
        "A robe takes 2 bolts of blue fiber and half that much white fiber",
    ]
    index = NgramIndex(tests, n=3)
    copy = "Janet has 16 ducks that lay eggs every day and she sells them at the fair"
    share, closest = index.closest(copy)
    assert closest == tests[0] and share == pytest.approx(13 / 14)  # all 3-grams but "at the fair"
    assert index.closest("Bob walks 5 miles to the store and back") == (0.0, None)
    half, _ = index.closest("a robe takes 2 bolts of red silk and some wool")
    assert half == pytest.approx(4 / 9)
