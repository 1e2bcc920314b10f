"""Sentence-level verification of drafts: citations, sentence splitting, verdicts, attribution."""

from __future__ import annotations

import re

import pytest

from desktop.core.generation import verify as verify_module
from desktop.core.generation.verify import (
    Sentence,
    citations_in,
    judge,
    sentence_spans,
    split_sentences,
    verify,
    with_citations,
)

PASSAGES = [
    # [1]
    "If your payment is still not received 7 days after your due date, we add a £4.99 "
    "late-payment fee to your next bill.",
    # [2]
    "A Device Cover claim for a cracked screen has an excess of £49. Claims are decided within "
    "2 working days.",
    # [3]
    "To reset your password, open the Northwind app, tap Settings and choose Reset password.",
]


# Citations


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The fee is £4.99 [1].", [1]),
        ("The fee is £4.99 [1, 2].", [1, 2]),
        ("The fee is £4.99 [1,3].", [1, 3]),
        ("The fee is £4.99 [1][3].", [1, 3]),
        ("Fee [2] and excess [1] [2].", [2, 1]),
        ("No citation here.", []),
        ("Not a citation [a] or [] or [1.5].", []),
    ],
)
def test_citations_are_parsed_in_order_without_repeats(text: str, expected: list[int]) -> None:
    assert citations_in(text) == expected


# Sentences


def test_sentences_split_at_ends_and_keep_their_citations() -> None:
    draft = (
        "The fee is £4.99 [1]. It is added after 7 days. [1][3] Is it refundable? "
        "Yes, once a year [1, 2]!"
    )

    assert split_sentences(draft) == [
        "The fee is £4.99 [1].",
        "It is added after 7 days. [1][3]",
        "Is it refundable?",
        "Yes, once a year [1, 2]!",
    ]


def test_decimals_and_prices_do_not_split_sentences() -> None:
    assert split_sentences("Roaming costs 3.5p per MB and £12.50 a month [1]. Then stop.") == [
        "Roaming costs 3.5p per MB and £12.50 a month [1].",
        "Then stop.",
    ]


def test_list_markers_are_not_sentences() -> None:
    draft = "Do this:\n1. Open the app [3].\n2) Tap Settings.\n- Choose Reset password.\n* Done"

    assert split_sentences(draft) == [
        "Do this:",
        "1. Open the app [3].",
        "2) Tap Settings.",
        "- Choose Reset password.",
        "* Done",
    ]


def test_a_step_number_with_two_spaces_after_it_is_not_a_sentence() -> None:
    # Markdown from Hugo sites writes "1.  Log in"; pySBD ends a sentence after "1." there, and
    # extractive drafts then cited the bare "1." as a sentence ("1. [1] Log in ... [1]").
    steps = "1.  Log in to the MyRackspace Portal.\n2.  Click Products > Cloud Office. Then wait."

    assert split_sentences(steps) == [
        "1.  Log in to the MyRackspace Portal.",
        "2.  Click Products > Cloud Office.",
        "Then wait.",
    ]
    assert split_sentences("Version 2. Then restart.") == ["Version 2.", "Then restart."]


def test_lines_without_end_punctuation_are_sentences_and_blank_lines_are_not() -> None:
    assert split_sentences("Hi Sam,\n\n\nThanks for waiting\n  \nKind regards") == [
        "Hi Sam,",
        "Thanks for waiting",
        "Kind regards",
    ]


def test_sentence_spans_index_the_draft() -> None:
    draft = "  First one [1].   Second one.\n\n3. Third [2]"

    spans = sentence_spans(draft)

    assert [draft[a:b] for a, b in spans] == ["First one [1].", "Second one.", "3. Third [2]"]


# Verdicts


def test_sentence_carried_by_its_cited_source_is_supported() -> None:
    sentence = judge("We add a £4.99 late-payment fee 7 days after your due date [1].", PASSAGES)

    assert (sentence.verdict, sentence.citations, sentence.reason) == ("supported", [1], "")
    assert sentence.attributed is False


def test_changed_number_is_unsupported_and_the_reason_names_it() -> None:
    sentence = judge("We add a £5.99 late-payment fee 7 days after your due date [1].", PASSAGES)

    assert sentence.verdict == "unsupported"
    assert "5.99" in sentence.reason


def test_number_from_another_source_is_unsupported() -> None:
    sentence = judge("The late-payment fee is £49 [1].", PASSAGES)

    assert sentence.verdict == "unsupported"
    assert "49" in sentence.reason


def test_citation_to_a_source_not_given_is_unsupported() -> None:
    sentence = judge("We add a £4.99 late-payment fee [4].", PASSAGES)

    assert sentence.verdict == "unsupported"
    assert "4" in sentence.reason and "not given" in sentence.reason


def test_source_zero_is_not_given_either() -> None:
    assert judge("We add a late-payment fee [0].", PASSAGES).verdict == "unsupported"


def test_claim_the_cited_passage_does_not_carry_is_unsupported() -> None:
    sentence = judge("You can cancel your broadband contract without any penalty [3].", PASSAGES)

    assert sentence.verdict == "unsupported"
    assert "key words" in sentence.reason


def test_multiple_citations_pool_their_passages() -> None:
    sentence = judge("The fee is £4.99 and the screen excess is £49 [1, 2].", PASSAGES)

    assert sentence.verdict == "supported"


def test_numbered_steps_are_not_numbers_to_check() -> None:
    sentences = verify(
        "2. Open the Northwind app and tap Settings [3].\n10. Choose Reset password [3].", PASSAGES
    )

    assert [s.verdict for s in sentences] == ["supported", "supported"]


def test_step_number_does_not_hide_a_wrong_number() -> None:
    sentences = verify("1. The excess for a cracked screen is £59 [2].", PASSAGES)

    assert sentences[0].verdict == "unsupported"
    assert "59" in sentences[0].reason


# Attribution of uncited sentences


def test_uncited_sentence_is_attributed_to_the_passage_that_carries_it() -> None:
    [sentence] = verify("A cracked screen claim under Device Cover has a £49 excess.", PASSAGES)

    assert sentence.attributed is True
    assert sentence.verdict == "supported"
    assert sentence.citations == [2]


def test_uncited_sentence_no_passage_carries_stays_no_citation() -> None:
    [sentence] = verify("Our shops sell chocolate cake on Fridays.", PASSAGES)

    assert (sentence.verdict, sentence.citations, sentence.attributed) == ("no_citation", [], False)
    assert sentence.reason


def test_uncited_sentence_with_a_changed_number_is_not_attributed() -> None:
    [sentence] = verify("A cracked screen claim under Device Cover has a £59 excess.", PASSAGES)

    assert sentence.verdict == "no_citation"
    assert sentence.attributed is False


@pytest.mark.parametrize("filler", ["Yes.", "I can do that.", "Thanks!"])
def test_filler_sentences_are_not_given_a_source(filler: str) -> None:
    [sentence] = verify(filler, PASSAGES)

    assert sentence.verdict == "no_citation"
    assert sentence.citations == []


def test_nothing_is_attributed_without_passages() -> None:
    [sentence] = verify("The fee is £4.99.", [])

    assert sentence.verdict == "no_citation"


def test_verify_gives_every_sentence_a_verdict() -> None:
    draft = (
        "Hi Sam,\nWe add a £4.99 late-payment fee 7 days after your due date [1]. "
        "The excess is £50 [2]. Open the Northwind app and tap Settings."
    )

    sentences = verify(draft, PASSAGES)

    assert [(s.verdict, s.attributed) for s in sentences] == [
        ("no_citation", False),
        ("supported", False),
        ("unsupported", False),
        ("supported", True),
    ]
    assert sentences[2].to_json()["reason"] == sentences[2].reason


# Writing attributed citations back into the draft


def test_with_citations_inserts_markers_after_attributed_sentences_only() -> None:
    draft = (
        "Hi Sam,\n\nA cracked screen claim under Device Cover has a £49 excess.  "
        "We add a £4.99 fee [1].\nOur shops sell chocolate cake.\n"
    )
    sentences = verify(draft, PASSAGES)

    result = with_citations(draft, sentences)

    assert result == (
        "Hi Sam,\n\nA cracked screen claim under Device Cover has a £49 excess. [2]  "
        "We add a £4.99 fee [1].\nOur shops sell chocolate cake.\n"
    )
    # Everything else is byte-identical: taking the inserted marker out gives the draft back.
    assert result.replace(" [2]", "", 1) == draft


def test_with_citations_round_trips_through_verify() -> None:
    draft = "Open the Northwind app, tap Settings and choose Reset password. Thanks!"
    sentences = verify(draft, PASSAGES)

    again = verify(with_citations(draft, sentences), PASSAGES)

    assert [(s.verdict, s.citations, s.attributed) for s in again] == [
        ("supported", [3], False),
        ("no_citation", [], False),
    ]


def test_with_citations_leaves_an_unattributed_draft_unchanged() -> None:
    draft = "  Line one [1].\n\n2. Line two.\nTrailing space   \n"
    sentences = [Sentence(text) for text in split_sentences(draft)]

    assert with_citations(draft, sentences) == draft


def test_with_citations_refuses_sentences_that_do_not_match_the_draft() -> None:
    with pytest.raises(ValueError, match=re.escape("zip()")):
        with_citations("One. Two.", [Sentence("One.")])


# --- the meaning signal (a real embedding model) ---------------------------------------------

ROUTER = (
    "Routers are supplied for your broadband plan and can't be exchanged for a different model. "
    "If your router is faulty, we'll send a replacement."
)
REPAIR = (
    "If your phone is being repaired, your plan continues as normal. You can use your SIM in "
    "another phone. For broadband faults, we'll send a replacement Northwind Hub 3 by next-day "
    "delivery, free of charge, instead of repairing the old one."
)


@pytest.mark.slow
def test_meaning_vetoes_a_sentence_made_of_the_sources_words(embedder) -> None:
    # An invented step from the planted claims: the words are the passage's, the promise is not.
    meaning = verify_module.EmbeddingMeaning(embedder.embed)
    claim = "While your phone is being repaired, we'll send you a free loan phone to use [1]."
    assert verify_module.judge(claim, [REPAIR]).verdict == "supported"  # lexically it passes
    judged = verify_module.judge(claim, [REPAIR], meaning)
    assert judged.verdict == "unsupported" and "meaning" in judged.reason


@pytest.mark.slow
def test_meaning_keeps_a_faithful_sentence_supported(embedder) -> None:
    meaning = verify_module.EmbeddingMeaning(embedder.embed)
    claim = "If your router is faulty, we'll send a replacement [1]."
    assert meaning.similarity(claim, ROUTER) > 0.9  # the closest window is that very sentence
    assert verify_module.judge(claim, [ROUTER], meaning).verdict == "supported"


@pytest.mark.slow
def test_meaning_never_rescues_a_wrong_number(embedder) -> None:
    meaning = verify_module.EmbeddingMeaning(embedder.embed)
    passage = "Redelivery is free. We keep the parcel for 7 days."
    judged = verify_module.judge("We keep the parcel for 14 days [1].", [passage], meaning)
    assert judged.verdict == "unsupported" and "14" in judged.reason


@pytest.mark.slow
def test_meaning_caches_passage_windows(embedder) -> None:
    calls: list[int] = []

    def embed(texts: list[str]):  # type: ignore[no-untyped-def]
        calls.append(len(texts))
        return embedder.embed(texts)

    meaning = verify_module.EmbeddingMeaning(embed)
    meaning.similarity("Routers can't be exchanged.", ROUTER)
    meaning.similarity("We send a replacement.", ROUTER)
    # Two sentences of the passage plus one pair, once; then one call per new sentence.
    assert calls == [1, 3, 1]


# Sentence splitting (pySBD) and contradictions


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Use a long password, e.g. one with 12 characters [1]. Then save it.",
            ["Use a long password, e.g. one with 12 characters [1].", "Then save it."],
        ),
        (
            "Call Dr. Patel at the U.S. office [2]. She replies within a day.",
            ["Call Dr. Patel at the U.S. office [2].", "She replies within a day."],
        ),
        (
            "Open Settings, i.e. the gear icon. Tap Save.",
            ["Open Settings, i.e. the gear icon.", "Tap Save."],
        ),
    ],
)
def test_abbreviations_do_not_end_a_sentence(text: str, expected: list[str]) -> None:
    assert split_sentences(text) == expected


def test_hard_wrapped_lines_unwrap_into_whole_sentences() -> None:
    from desktop.core.text import unwrap

    text = "There is no limit\nto the number of members.\n1. Open the list\n2. Add members"

    assert unwrap(text) == (
        "There is no limit to the number of members.\n1. Open the list\n2. Add members"
    )
    assert len(unwrap(text)) == len(text)


PASSAGE_NEGATIONS = (
    "We don't charge a separate fee for a failed Direct Debit. If the bill still hasn't been "
    "paid 7 days after the due date, the standard £4.99 late-payment fee applies."
)


@pytest.mark.parametrize(
    "claim",
    [
        "We charge a separate fee for a failed Direct Debit [1].",
        "A failed Direct Debit incurs a separate charge and fee [1].",
    ],
)
def test_a_sentence_dropping_the_sources_negation_is_unsupported(claim: str) -> None:
    sentence = judge(claim, [PASSAGE_NEGATIONS])

    assert sentence.verdict == "unsupported"
    assert "not so" in sentence.reason


def test_a_sentence_negating_what_the_source_states_is_unsupported() -> None:
    sentence = judge(
        "If the bill still hasn't been paid 7 days after the due date, the late-payment fee is "
        "not applied [1].",
        [PASSAGE_NEGATIONS],
    )

    assert sentence.verdict == "unsupported"
    assert "negated" in sentence.reason


def test_a_negation_kept_from_the_source_is_supported() -> None:
    sentence = judge(
        "We don't charge a separate fee for a failed Direct Debit [1].", [PASSAGE_NEGATIONS]
    )

    assert sentence.verdict == "supported"


@pytest.mark.parametrize(
    ("claim", "passage"),
    [
        (
            "We can remove a late-payment fee three times in any 12-month period [1].",
            "We may remove a late-payment fee once in any 12-month period.",
        ),
        (
            "Refunds reach your card within 48 hours [1].",
            "Refunds reach your card within 24 hours.",
        ),
        ("Wait two days before asking again [1].", "Wait 5 days before asking again."),
    ],
)
def test_a_changed_number_in_words_or_digits_is_unsupported(claim: str, passage: str) -> None:
    assert judge(claim, [passage]).verdict == "unsupported"


def test_a_number_written_as_a_word_matches_its_digits() -> None:
    sentence = judge(
        "Wait five days before asking again [1].", ["Wait 5 days before asking again."]
    )

    assert sentence.verdict == "supported"


def test_once_as_a_conjunction_is_not_a_number() -> None:
    sentence = judge(
        "Once you reset your password, we send a confirmation email [1].",
        ["When you reset your password, we send a confirmation email."],
    )

    assert sentence.verdict == "supported"


@pytest.mark.parametrize(
    ("sentence", "passage", "flagged"),
    [
        (
            "Yes, you can view only one account at a time in the Cloud Control Panel. [1]",
            "You can view only one account at a time in the Cloud Control Panel.",
            True,
        ),
        (
            "Yes, you can't get a refund after 30 days. [1]",
            "Refunds are not given after 30 days.",
            True,
        ),
        (
            "No, you can export your contacts from Settings. [1]",
            "You can export your contacts from Settings.",
            True,
        ),
        (
            "No, DuckDuckGo will never save your emails for this service. [1]",
            "No. DuckDuckGo will never save your emails for this service.",
            False,
        ),
        (
            "No, you cannot pay by cheque. [1]",
            "We do not accept cheques; pay by card or direct debit.",
            False,
        ),
        ("Yes, you can export your contacts. [1]", "You can export your contacts.", False),
        (
            "Yes, only the account owner can do that. [1]",
            "Yes. Only the account owner can change the plan.",
            False,
        ),
    ],
)
def test_a_leading_yes_or_no_must_be_the_sources_answer(
    sentence: str, passage: str, flagged: bool
) -> None:
    reason = verify_module.answer_word_mismatch(sentence, passage)
    assert bool(reason) is flagged, reason
    if flagged:
        assert verify_module.judge(sentence, [passage]).verdict == "unsupported"


@pytest.mark.parametrize(
    ("last", "flagged"),
    [
        ("Yes, you can pick any of the AI models from DuckD [1]", True),
        ("The time it takes varies from site to site, but [2]", True),
        ("Most sites remove the record within 10 days. [1]", False),
        ("Go to Settings > VPN (on Android). [1][2]", False),
        ('It says "can\'t load the page." [1]', False),
    ],
)
def test_a_cut_drafts_unfinished_last_sentence_is_not_supported(last: str, flagged: bool) -> None:
    sentences = [Sentence("Open the app. [1]", [1], "supported"), Sentence(last, [1], "supported")]
    verify_module.flag_unfinished(sentences)
    assert sentences[0].verdict == "supported"
    assert (sentences[1].verdict == "unsupported") is flagged
    assert (sentences[1].reason == verify_module.UNFINISHED) is flagged


@pytest.mark.parametrize(
    ("question", "first", "flagged"),
    [
        (
            "which AI models can you pick from in duck.ai",
            "Yes, you can pick any of the AI models from DuckDuckGo's AI-assisted answers. [1]",
            True,
        ),
        ("How long do refunds take?", "No, refunds are not delayed. [1]", True),
        ("Can I pick a model in Duck.ai?", "Yes, you can pick a model. [1]", False),
        (
            "which AI models can I pick?",
            "You can pick models from OpenAI and Anthropic. [1]",
            False,
        ),
    ],
)
def test_yes_or_no_to_a_which_or_how_question_is_not_supported(
    question: str, first: str, flagged: bool
) -> None:
    sentences = [
        Sentence(first, [1], "supported"),
        Sentence("Open Settings. [1]", [1], "supported"),
    ]
    verify_module.flag_yes_no_to_open_question(question, sentences)
    assert (sentences[0].verdict == "unsupported") is flagged
    assert sentences[1].verdict == "supported"
    if flagged:
        assert sentences[0].reason.startswith('It answers "')


def test_a_claim_about_what_the_source_mentions_only_to_deny_is_unsupported() -> None:
    # A SmolLM2 reply kept by the gate (help-centre hand check, 2026-11-30).
    source = (
        "DuckDuckGo has been profitable since 2014. Because of this, we don't accept donations. "
        "Instead, you can support us by disabling ad blockers so you see our private ads."
    )
    denied = judge("You can send a donation to DuckDuckGo at: [1]", [source])
    assert denied.verdict == "unsupported"
    assert denied.reason == 'The cited source mentions "donation" only to say it is not so.'
    assert judge("We don't accept donations. [1]", [source]).verdict == "supported"
    assert (
        judge("You can support us by disabling ad blockers. [1]", [source]).verdict == "supported"
    )
