namespace DeepSharp.Examples.Translation;

/// <summary>One English sentence and its translation into the toy language, both as space-separated tokens.</summary>
public sealed record SentencePair(string Source, string Target);

/// <summary>
/// A small English grammar and its translation into an invented language ("Toy") that a word-by-word copy cannot
/// solve: subject–object–verb order with an object marker, adjectives after the noun, prepositions turned into
/// postpositions placed after the subject, adjective and verb endings that agree with the gender and number of their
/// noun or subject (every Toy noun has an arbitrary grammatical gender that the English word does not show),
/// gendered articles, and number words written as digits.
/// </summary>
/// <remarks>
/// English: <c>S → NP V NP [ADV] [PREP NP]</c>, <c>NP → DET ADJ{0..2} N | ADJ{0..2} N-plural</c>, 3 to 15 tokens.
/// Toy: <c>S → NP [NP POSTP] NP ka [ADV] V-agreeing</c>, e.g. "the big dog sees two small cats today" →
/// "lo tovu grano 2 mirelen pikaj ka hodiau vidas". The generator is deterministic for a seed.
/// </remarks>
public static class ToyLanguage
{
    /// <summary>An English noun, its plural, the Toy stem and its gender.</summary>
    public sealed record Noun(string English, string EnglishPlural, string Toy, bool Feminine)
    {
        /// <summary>The Toy plural: a vowel-final stem takes -n, a consonant-final one -en.</summary>
        public string ToyPlural => "aeiou".Contains(Toy[^1]) ? Toy + "n" : Toy + "en";
    }

    /// <summary>An English verb (third person singular and plural) and its Toy stem.</summary>
    public sealed record Verb(string Singular, string Plural, string Toy);

    public static readonly Noun[] Nouns =
    [
        new("dog", "dogs", "tovu", false), new("cat", "cats", "mirel", true), new("bird", "birds", "pipa", true),
        new("horse", "horses", "kaval", false), new("man", "men", "omen", false), new("woman", "women", "frau", true),
        new("child", "children", "kindo", false), new("teacher", "teachers", "dozen", true), new("king", "kings", "reko", false),
        new("queen", "queens", "regina", true), new("farmer", "farmers", "agro", false), new("doctor", "doctors", "medika", true),
        new("fox", "foxes", "vulpo", false), new("cow", "cows", "bovina", true), new("wolf", "wolves", "lupo", false),
        new("mouse", "mice", "muso", true),
    ];

    /// <summary>English adjective → Toy stem; the Toy adjective ends in -o (m. sg.), -a (f. sg.), -oj (m. pl.), -aj (f. pl.).</summary>
    public static readonly (string English, string Toy)[] Adjectives =
    [
        ("big", "gran"), ("small", "pik"), ("red", "rud"), ("blue", "blau"), ("old", "vet"), ("young", "jun"),
        ("happy", "fel"), ("green", "verd"), ("tall", "alt"), ("quiet", "kalm"), ("black", "negr"), ("white", "blank"),
    ];

    /// <summary>Toy verbs end in -as (m. sg. subject), -is (f. sg.), -os (m. pl.), -us (f. pl.).</summary>
    public static readonly Verb[] Verbs =
    [
        new("sees", "see", "vid"), new("likes", "like", "am"), new("follows", "follow", "sekv"), new("finds", "find", "trov"),
        new("helps", "help", "help"), new("chases", "chase", "cas"), new("calls", "call", "vok"), new("watches", "watch", "obs"),
        new("feeds", "feed", "nutr"), new("knows", "know", "kon"),
    ];

    public static readonly (string English, string Toy)[] Adverbs =
        [("today", "hodiau"), ("often", "ofte"), ("again", "denove"), ("quickly", "rapide"), ("never", "neniam"), ("slowly", "malrapide")];

    public static readonly (string English, string Toy)[] Prepositions =
        [("with", "kun"), ("near", "apud"), ("behind", "malantau"), ("under", "sub")];

    /// <summary>Number words two…ten (plural) and one (singular); Toy writes them as digits.</summary>
    public static readonly string[] NumberWords = ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"];

    /// <summary>The Toy object marker, placed after the object noun phrase.</summary>
    public const string ObjectMarker = "ka";

    /// <summary>The shortest and longest English sentence the grammar produces.</summary>
    public const int MinLength = 3, MaxLength = 15;

    private static string Agree(bool feminine, bool plural) => (feminine, plural) switch
    {
        (false, false) => "o",
        (true, false) => "a",
        (false, true) => "oj",
        (true, true) => "aj",
    };

    private static string VerbEnding(bool feminine, bool plural) => (feminine, plural) switch
    {
        (false, false) => "as",
        (true, false) => "is",
        (false, true) => "os",
        (true, true) => "us",
    };

    /// <summary>A noun phrase in both languages, and the number and gender that its verb agrees with.</summary>
    private readonly record struct Phrase(List<string> English, List<string> Toy, bool Plural, bool Feminine);

    private static Phrase NounPhrase(Random rng)
    {
        var noun = Nouns[rng.Next(Nouns.Length)];
        // Determiner: the (sg/pl), a, my (sg/pl), a number word, or none (bare plural).
        int kind = rng.Next(8);
        bool plural;
        string? enDet, toyDet;
        switch (kind)
        {
            case 0: plural = false; enDet = "the"; toyDet = noun.Feminine ? "la" : "lo"; break;
            case 1: plural = true; enDet = "the"; toyDet = noun.Feminine ? "las" : "los"; break;
            case 2: plural = false; enDet = "a"; toyDet = noun.Feminine ? "una" : "un"; break;
            case 3: plural = false; enDet = "my"; toyDet = "mia"; break;
            case 4: plural = true; enDet = "my"; toyDet = "miaj"; break;
            case 5: plural = false; enDet = "one"; toyDet = "1"; break;
            case 6:
            {
                int n = rng.Next(2, 11);
                plural = true; enDet = NumberWords[n - 1]; toyDet = n.ToString(System.Globalization.CultureInfo.InvariantCulture);
                break;
            }
            default: plural = true; enDet = null; toyDet = null; break;
        }
        // Zero to two distinct adjectives (none half of the time).
        int adjectives = rng.Next(4) switch { 0 or 1 => 0, 2 => 1, _ => 2 };
        var chosen = new List<(string English, string Toy)>();
        while (chosen.Count < adjectives)
        {
            var a = Adjectives[rng.Next(Adjectives.Length)];
            if (!chosen.Contains(a)) chosen.Add(a);
        }
        var en = new List<string>();
        var toy = new List<string>();
        if (enDet is not null) en.Add(enDet);
        en.AddRange(chosen.Select(a => a.English));
        en.Add(plural ? noun.EnglishPlural : noun.English);
        if (toyDet is not null) toy.Add(toyDet);
        toy.Add(plural ? noun.ToyPlural : noun.Toy);
        toy.AddRange(chosen.Select(a => a.Toy + Agree(noun.Feminine, plural)));
        return new Phrase(en, toy, plural, noun.Feminine);
    }

    /// <summary>One random sentence pair.</summary>
    public static SentencePair Sentence(Random rng)
    {
        ArgumentNullException.ThrowIfNull(rng);
        var subject = NounPhrase(rng);
        var verb = Verbs[rng.Next(Verbs.Length)];
        var obj = NounPhrase(rng);
        (string English, string Toy)? adverb = rng.Next(3) == 0 ? Adverbs[rng.Next(Adverbs.Length)] : null;
        (string English, string Toy)? preposition = rng.Next(3) == 0 ? Prepositions[rng.Next(Prepositions.Length)] : null;
        Phrase? prepObject = preposition is null ? null : NounPhrase(rng);

        var en = new List<string>(subject.English) { subject.Plural ? verb.Plural : verb.Singular };
        en.AddRange(obj.English);
        if (adverb is { } adv) en.Add(adv.English);
        if (preposition is { } p)
        {
            en.Add(p.English);
            en.AddRange(prepObject!.Value.English);
        }

        var toy = new List<string>(subject.Toy);
        if (preposition is { } q)
        {
            toy.AddRange(prepObject!.Value.Toy);
            toy.Add(q.Toy);
        }
        toy.AddRange(obj.Toy);
        toy.Add(ObjectMarker);
        if (adverb is { } adv2) toy.Add(adv2.Toy);
        toy.Add(verb.Toy + VerbEnding(subject.Feminine, subject.Plural));
        return new SentencePair(string.Join(' ', en), string.Join(' ', toy));
    }

    /// <summary>
    /// <paramref name="trainCount"/> + <paramref name="heldOutCount"/> distinct sentence pairs from a seeded generator:
    /// no English sentence occurs twice, so no held-out sentence occurs in the training split.
    /// </summary>
    public static (List<SentencePair> Train, List<SentencePair> HeldOut) Corpus(int trainCount, int heldOutCount, int seed = 1)
    {
        if (trainCount < 0 || heldOutCount < 0) throw new ArgumentOutOfRangeException(nameof(trainCount), "Corpus sizes must be non-negative.");
        var rng = new Random(seed);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var all = new List<SentencePair>(trainCount + heldOutCount);
        int attempts = 0;
        while (all.Count < trainCount + heldOutCount)
        {
            if (++attempts > 100 * (trainCount + heldOutCount) + 1000)
                throw new InvalidOperationException("The toy grammar cannot produce that many distinct sentences.");
            var pair = Sentence(rng);
            if (seen.Add(pair.Source)) all.Add(pair);
        }
        // The order is already random; the first sentences are held out.
        return (all.GetRange(heldOutCount, trainCount), all.GetRange(0, heldOutCount));
    }
}
