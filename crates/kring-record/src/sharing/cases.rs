//! Worked examples for training, one or more per role, after the family cases of *Kiezen en
//! Delen*: a situation in a few sentences, what the record would already know, the answers a
//! careful professional gives, and the outcome with why. Professionals walk them in the aid
//! without any client's record (`/delen/oefenen`); the tests walk them too, so an example
//! never teaches what the tree does not do.

use kring_access::sharing::Ground;

use super::aid::{Answer, ConsentFrom, Consult, Known, NotToShare, Outcome, Question};

/// One worked example.
#[derive(Debug, Clone)]
pub struct TrainingCase {
    pub id: &'static str,
    /// The role of the professional who hesitates (huisarts, jeugdhulp, wijkteam, school,
    /// politie, schuldhulp).
    pub role: &'static str,
    pub title: &'static str,
    pub story: &'static str,
    pub known: Known,
    /// The answers the example expects.
    pub answers: &'static [(Question, Answer)],
    pub outcome: Outcome,
    pub why: &'static str,
}

fn known(in_circle: bool, consent: Option<Answer>, age: u32) -> Known {
    Known {
        in_circle: Some(in_circle),
        consent,
        age: Some(age),
        protection_order: None,
        recipient_kind: None,
    }
}

/// The worked examples Kring ships.
pub fn all() -> Vec<TrainingCase> {
    use Answer::*;
    use Question::*;
    vec![
        TrainingCase {
            id: "huisarts-moeder",
            role: "huisarts",
            title: "De huisarts en de moeder die niet meer slaapt",
            story: "Een huisarts ziet een moeder van drie kinderen die uitgeput is en zegt dat ze 'het niet meer trekt'. Het wijkteam vraagt de huisarts of de moeder medicatie gebruikt. Het wijkteam staat in de kring van de moeder; de moeder gaf het wijkteam toestemming voor medicatie.",
            known: known(true, Some(Given), 38),
            answers: &[(TaskNeeds, Yes), (GoodProfessional, No), (Minimum, Yes), (OthersPrivacy, No)],
            outcome: Outcome::Share { ground: Ground::CoTreatment, minimum: false, withhold: false },
            why: "Het wijkteam helpt de moeder mee en heeft de medicatie nodig voor zijn taak: dat is de behandelrelatie. Deel alleen de medicatie, niet de rest van het dossier.",
        },
        TrainingCase {
            id: "jeugdhulp-school",
            role: "jeugdhulp",
            title: "De jeugdhulpverlener en de mentor van school",
            story: "Een jeugdhulpverlener begeleidt een meisje van 14 met angstklachten. Haar mentor vraagt wat er speelt, omdat ze vaak afwezig is. De school staat niet in de kring. Het meisje en haar ouders zijn nog niet gevraagd, en dat kan gewoon.",
            known: known(false, None, 14),
            answers: &[(ProtectionOrder, No), (VeiligThuis, No), (Consent, NotAsked), (CanAskConsent, Yes)],
            outcome: Outcome::AskConsentFirst(ConsentFrom::ChildAndParents),
            why: "De school hoort niet bij de behandelrelatie en er is geen wettelijke plicht. Vraag eerst toestemming: bij 12 tot 16 jaar aan het meisje én haar ouders met gezag.",
        },
        TrainingCase {
            id: "wijkteam-gi",
            role: "wijkteam",
            title: "Het wijkteam en de gezinsvoogd",
            story: "Voor een jongen van 9 loopt een ondertoezichtstelling. De gezinsvoogd van de gecertificeerde instelling vraagt het wijkteam om het verslag van het laatste huisbezoek. De ouders willen niet dat het wijkteam iets deelt.",
            known: known(false, Some(Refused), 9),
            answers: &[(ProtectionOrder, Yes), (GoodProfessional, No), (Minimum, Yes), (OthersPrivacy, Yes), (EndangersIfTold, No)],
            outcome: Outcome::Share { ground: Ground::ProtectionOrder, minimum: true, withhold: false },
            why: "De gecertificeerde instelling die de maatregel uitvoert mag de gegevens vragen, ook zonder toestemming (Jeugdwet 7.3.11 lid 4). Het verslag noemt ook de broertjes: deel alleen wat over deze jongen gaat.",
        },
        TrainingCase {
            id: "school-blauwe-plekken",
            role: "school",
            title: "De intern begeleider en de blauwe plekken",
            story: "Een intern begeleider ziet bij een meisje van 7 opnieuw blauwe plekken. Het meisje zegt dat ze 'niet naar huis wil'. De school overweegt Veilig Thuis in te lichten. Als de ouders het nu horen, kan het thuis erger worden.",
            known: known(false, None, 7),
            answers: &[(ProtectionOrder, No), (VeiligThuis, Yes), (GoodProfessional, No), (Minimum, Yes), (OthersPrivacy, No), (EndangersIfTold, Yes)],
            outcome: Outcome::Share { ground: Ground::VeiligThuisReport, minimum: false, withhold: true },
            why: "U heeft het recht om Veilig Thuis in te lichten, ook zonder toestemming (meldrecht). Omdat het de ouders nu vertellen het meisje in gevaar brengt, hoort de familie het later; de privacyfunctionaris ziet dit besluit. Volg de meldcode.",
        },
        TrainingCase {
            id: "politie-dreiging",
            role: "politie",
            title: "De wijkagent en de dreiging",
            story: "Een man van 42 in begeleiding bij de ggz dreigt zijn ex-partner vanavond 'iets aan te doen'. De wijkagent belt de ggz-behandelaar en vraagt of de man gevaarlijk is. De man weigert dat er iets gedeeld wordt.",
            known: known(false, Some(Refused), 42),
            answers: &[(VeiligThuis, No), (Acute, Yes), (NoOtherWay, Yes), (SharingHelps, Yes), (GoodProfessional, No), (Minimum, No), (OthersPrivacy, No), (EndangersIfTold, No)],
            outcome: Outcome::Share { ground: Ground::ConflictOfDuties, minimum: true, withhold: false },
            why: "Er is acuut gevaar voor een ander, er is geen andere weg en delen helpt: een conflict van plichten. Deel alleen wat de politie nodig heeft om het gevaar af te wenden, niet de behandeling.",
        },
        TrainingCase {
            id: "schuldhulp-huisarts",
            role: "schuldhulp",
            title: "De schuldhulpverlener en de huisarts",
            story: "Een schuldhulpverlener merkt dat een vrouw van 55 somber is en denkt dat de huisarts dat moet weten. De vrouw wil dat niet. Er is geen gevaar voor haarzelf of anderen.",
            known: known(false, Some(Refused), 55),
            answers: &[(VeiligThuis, No), (Acute, No), (SeriousHarm, No)],
            outcome: Outcome::DoNotShare(NotToShare::Refused),
            why: "De vrouw weigert, er is geen wettelijke grond en zwijgen geeft geen ernstige schade. Respecteer haar keuze; bespreek met haar waarom u de huisarts wilt inlichten.",
        },
        TrainingCase {
            id: "jeugdhulp-twijfel",
            role: "jeugdhulp",
            title: "Twijfel over een peuter",
            story: "Een jeugdhulpverlener ziet bij een huisbezoek een peuter van 2 die erg stil is en mager. De ouders weigeren dat zij iets deelt met het consultatiebureau. Ze weet niet of er echt gevaar is.",
            known: known(false, Some(Refused), 2),
            answers: &[(ProtectionOrder, No), (VeiligThuis, No), (Acute, No), (SeriousHarm, Unsure), (EndangersIfTold, No)],
            outcome: Outcome::Consult(Consult::VeiligThuis),
            why: "Bij twijfel over de veiligheid van een kind vraagt u Veilig Thuis om advies (dat kan zonder namen), en overlegt u met een collega: stap 2 van de meldcode.",
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::super::aid::{walk, Answers, Step};
    use super::*;

    #[test]
    fn every_worked_example_walks_to_its_outcome_with_its_answers_only() {
        let cases = all();
        for role in [
            "huisarts",
            "jeugdhulp",
            "wijkteam",
            "school",
            "politie",
            "schuldhulp",
        ] {
            assert!(cases.iter().any(|c| c.role == role), "{role}");
        }
        for c in &cases {
            let given: Answers = c.answers.iter().copied().collect();
            assert_eq!(walk(&c.known, &given), Step::Done(c.outcome), "{}", c.id);
            // Every answer of the example is asked: none is superfluous.
            let asked: Vec<Question> = super::super::aid::path(&c.known, &given)
                .into_iter()
                .filter(|(_, _, from_record)| !from_record)
                .map(|(q, _, _)| q)
                .collect();
            assert_eq!(asked.len(), c.answers.len(), "{}: {asked:?}", c.id);
        }
    }
}
