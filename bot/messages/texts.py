"""Every word the bot says to people, in one place: Swedish first (easy-to-read), English second."""

from __future__ import annotations

from typing import Any

LANGUAGES = ("sv", "en")
DEFAULT_LANGUAGE = "sv"

TEXTS: dict[str, dict[str, str]] = {
    # --- first contact and commands -------------------------------------------------------
    "welcome": {
        "sv": (
            "Hej och välkommen till {municipality}!\n"
            "Här kan din förening ställa frågor till kommunen. "
            "Skriv din fråga med egna ord, så skickar jag den till rätt förvaltning "
            "och ger dig ett ärendenummer.\n\n"
            "Vilket språk vill du använda?"
        ),
        "en": (
            "Hello and welcome to {municipality}!\n"
            "Your association can ask the municipality questions here. "
            "Write your question in your own words. I will send it to the right department "
            "and give you a reference number.\n\n"
            "Which language would you like to use?"
        ),
    },
    "welcome_back": {
        "sv": "Välkommen tillbaka! Du skriver för {name}. Skriv din fråga med egna ord. (/start för att byta förening)",
        "en": "Welcome back! You write for {name}. Write your question in your own words. (/start to change association)",
    },
    "ask_association": {
        "sv": (
            "Vilken förening skriver du för? Skriv föreningens namn. "
            "Du kan också skriva organisationsnumret efter ett kommatecken, "
            "till exempel: Storåsa IF, 802400-1234"
        ),
        "en": (
            "Which association are you writing for? Write its name. "
            "You can add the organisation number after a comma, "
            "for example: Storåsa IF, 802400-1234"
        ),
    },
    "association_saved": {
        "sv": "Tack! Nu vet jag att du skriver för {name}. Skriv din fråga när du vill.",
        "en": "Thank you! I now know you write for {name}. Write your question whenever you like.",
    },
    "association_invalid": {
        "sv": "Jag förstod inte föreningens namn. Skriv namnet med 2–200 tecken.",
        "en": "I did not understand the name. Please write the name with 2–200 characters.",
    },
    "language_choice": {
        "sv": "Välj språk:",
        "en": "Choose a language:",
    },
    "language_set": {
        "sv": "Nu skriver jag på svenska.",
        "en": "I will now write in English.",
    },
    "help": {
        "sv": (
            "Så här fungerar det:\n"
            "• Skriv din fråga med egna ord. Jag skickar den till rätt förvaltning.\n"
            "• Du får ett ärendenummer, till exempel LOT-2026-00042.\n"
            "• Du får svaret här i chatten.\n\n"
            "Kommandon:\n"
            "/status – se dina ärenden\n"
            "/language – byt språk\n"
            "/cancel – avbryt det du håller på med\n"
            "/help – visa den här hjälpen\n\n"
            "Vill du prata med en människa? Skriv det, så hjälper samordnaren dig."
        ),
        "en": (
            "How it works:\n"
            "• Write your question in your own words. I send it to the right department.\n"
            "• You get a reference number, for example LOT-2026-00042.\n"
            "• You get the answer here in the chat.\n\n"
            "Commands:\n"
            "/status – see your enquiries\n"
            "/language – change language\n"
            "/cancel – stop what you are doing\n"
            "/help – show this help\n\n"
            "Want to talk to a person? Just say so and the coordinator will help you."
        ),
    },
    "cancelled": {
        "sv": "Okej, jag har avbrutit. Skriv en ny fråga när du vill.",
        "en": "Okay, cancelled. Write a new question whenever you like.",
    },
    "nothing_to_cancel": {
        "sv": "Det finns inget att avbryta. Skriv en fråga när du vill.",
        "en": "There is nothing to cancel. Write a question whenever you like.",
    },
    # --- routing --------------------------------------------------------------------------
    "routed": {
        "sv": (
            "Din fråga gäller {department}.\n"
            "Kontakt: {contact}\n"
            "Ditt ärendenummer: {reference}\n\n"
            "Vad händer nu? Jag har skickat frågan till förvaltningen. "
            "De svarar inom {sla_days} arbetsdagar. Du får svaret här. "
            "Skriv /status för att se hur det går."
        ),
        "en": (
            "Your question is for {department}.\n"
            "Contact: {contact}\n"
            "Your reference number: {reference}\n\n"
            "What happens next? I have sent your question to the department. "
            "They answer within {sla_days} working days. You will get the answer here. "
            "Write /status to see how it is going."
        ),
    },
    "escalated": {
        "sv": (
            "Jag är inte säker på vem som ska svara på din fråga. "
            "Därför har jag skickat den till kommunens samordnare, som hjälper dig vidare.\n"
            "Ditt ärendenummer: {reference}"
        ),
        "en": (
            "I am not sure who should answer your question, "
            "so I have sent it to the municipality's coordinator, who will help you.\n"
            "Your reference number: {reference}"
        ),
    },
    "escalated_human": {
        "sv": (
            "Självklart. Jag har skickat ditt meddelande till kommunens samordnare, "
            "en människa som kontaktar dig.\nDitt ärendenummer: {reference}"
        ),
        "en": (
            "Of course. I have passed your message to the municipality's coordinator, "
            "a person who will get back to you.\nYour reference number: {reference}"
        ),
    },
    "escalated_out_of_scope": {
        "sv": (
            "Det här verkar inte vara en fråga till kommunen från en förening. "
            "Jag har ändå sparat den och skickat den till kommunens samordnare, "
            "som hör av sig om vi kan hjälpa till.\nDitt ärendenummer: {reference}"
        ),
        "en": (
            "This does not seem to be a question from an association to the municipality. "
            "I have still saved it and passed it to the coordinator, who will get back to you "
            "if we can help.\nYour reference number: {reference}"
        ),
    },
    "registered_unavailable": {
        "sv": (
            "Tack! Din fråga är registrerad, men jag kan inte sortera den just nu. "
            "Kommunens samordnare tar hand om den.\nDitt ärendenummer: {reference}"
        ),
        "en": (
            "Thank you! Your question is registered, but I cannot sort it right now. "
            "The municipality's coordinator will take care of it.\n"
            "Your reference number: {reference}"
        ),
    },
    "contact_line": {
        "sv": "{role}, {email}{phone}{hours}",
        "en": "{role}, {email}{phone}{hours}",
    },
    "phone_part": {"sv": ", tel {phone}", "en": ", phone {phone}"},
    "hours_part": {"sv": " ({hours})", "en": " ({hours})"},
    # --- small talk -----------------------------------------------------------------------
    "greet": {
        "sv": "Hej! Skriv din fråga till kommunen med egna ord, så hjälper jag dig.",
        "en": "Hello! Write your question to the municipality in your own words and I will help.",
    },
    "goodbye": {
        "sv": "Hej då! Välkommen tillbaka när du har fler frågor.",
        "en": "Goodbye! Come back whenever you have more questions.",
    },
    "thanks": {
        "sv": "Varsågod! Hör av dig om du undrar något mer.",
        "en": "You are welcome! Get in touch if you have more questions.",
    },
    "affirm": {
        "sv": "Bra! Skriv gärna din fråga.",
        "en": "Good! Please write your question.",
    },
    "deny": {
        "sv": "Okej. Skriv gärna din fråga med andra ord, så försöker jag igen.",
        "en": "Okay. Please write your question in other words and I will try again.",
    },
    # --- status ---------------------------------------------------------------------------
    "status_header": {"sv": "Dina ärenden:", "en": "Your enquiries:"},
    "status_line": {
        "sv": "{reference} – {department} – {state}",
        "en": "{reference} – {department} – {state}",
    },
    "status_none": {
        "sv": "Du har inga öppna ärenden.",
        "en": "You have no open enquiries.",
    },
    "status_unknown_reference": {
        "sv": "Jag hittar inget ärende med numret {reference} bland dina ärenden.",
        "en": "I cannot find an enquiry with the number {reference} among yours.",
    },
    "status_ask_reference": {
        "sv": "Vilket ärendenummer gäller det? Det ser ut så här: LOT-2026-00042. "
        "Du kan också skriva /status.",
        "en": "Which reference number? It looks like this: LOT-2026-00042. "
        "You can also write /status.",
    },
    "state_received": {"sv": "mottaget", "en": "received"},
    "state_routed": {"sv": "väntar på svar från förvaltningen", "en": "waiting for the department"},
    "state_forwarded": {
        "sv": "skickat till förvaltningen, väntar på svar",
        "en": "sent to the department, waiting for an answer",
    },
    "state_answered": {"sv": "besvarat", "en": "answered"},
    "state_escalated": {"sv": "hos samordnaren", "en": "with the coordinator"},
    "state_closed": {"sv": "avslutat", "en": "closed"},
    "no_department": {"sv": "samordnaren", "en": "the coordinator"},
    # --- buttons, roles and the queue list ---------------------------------------------------
    "button_invalid": {
        "sv": "Den här knappen fungerar inte längre.",
        "en": "This button no longer works.",
    },
    "not_allowed": {
        "sv": "Du har inte behörighet att göra det här.",
        "en": "You are not allowed to do this.",
    },
    "queue_empty": {"sv": "Kön är tom.", "en": "The queue is empty."},
    "queue_header": {
        "sv": "Öppna ärenden i kön ({count}), äldst först (★ = hör sällan av sig):",
        "en": "Open enquiries in the queue ({count}), oldest first (★ = rarely in contact):",
    },
    "invite_ok": {
        "sv": "Välkommen! Du är nu registrerad i Lotsen med rollen {role}.",
        "en": "Welcome! You are now registered in Lotsen with the role {role}.",
    },
    "invite_invalid": {
        "sv": "Inbjudan fungerar inte. Den kan vara använd eller för gammal. Be om en ny.",
        "en": "The invitation does not work. It may be used or too old. Ask for a new one.",
    },
    # --- staff in a private chat (routes, contacts, absence) ------------------------------
    "staff_contact": {"sv": "Kontakt", "en": "Contact"},
    "staff_deputy": {"sv": "Ersättare", "en": "Deputy"},
    "staff_absent_range": {"sv": "frånvarande {start} – {end}", "en": "absent {start} – {end}"},
    "staff_routes_header": {"sv": "Ämnen som kommer till er:", "en": "Topics routed to you:"},
    "staff_verified": {"sv": "kontrollerad", "en": "verified"},
    "staff_help": {
        "sv": (
            "Ändra: /contact email|phone|hours|role VÄRDE (ersättare: /contact deputy …)\n"
            "Frånvaro: /absent 2026-12-01 2026-12-10 eller /absent clear\n"
            "Kontrollerat: /verify ÄMNE eller /verify all"
        ),
        "en": (
            "Change: /contact email|phone|hours|role VALUE (deputy: /contact deputy …)\n"
            "Absence: /absent 2026-12-01 2026-12-10 or /absent clear\n"
            "Checked: /verify TOPIC or /verify all"
        ),
    },
    "staff_contact_usage": {
        "sv": "Skriv så här: /contact email namn@kommun.se (eller phone, hours, role).",
        "en": "Write like this: /contact email name@municipality.se (or phone, hours, role).",
    },
    "staff_absent_usage": {
        "sv": "Skriv så här: /absent 2026-12-01 2026-12-10 (från och till), eller /absent clear.",
        "en": "Write like this: /absent 2026-12-01 2026-12-10 (from and until), or /absent clear.",
    },
    "staff_verify_usage": {
        "sv": "Skriv så här: /verify topic_bidrag eller /verify all.",
        "en": "Write like this: /verify topic_bidrag or /verify all.",
    },
    "staff_unknown_route": {
        "sv": "Ämnet {intent} finns inte hos er förvaltning. Skriv /routes för att se ämnena.",
        "en": "The topic {intent} is not routed to your department. Write /routes to see them.",
    },
    "staff_saved": {
        "sv": "Sparat. Ändringen gäller från nästa fråga.",
        "en": "Saved. The change applies from the next question.",
    },
    "staff_verified_done": {
        "sv": "Tack! {count} ämnen är markerade som kontrollerade i dag.",
        "en": "Thank you! {count} topics are marked as verified today.",
    },
    "staff_route_reminder": {
        "sv": "Påminnelse: de här ämnena behöver kontrolleras (stämmer kontakten?):\n{routes}\n"
        "Skriv /routes för att se dem och /verify all när de stämmer.",
        "en": "Reminder: these topics need checking (is the contact right?):\n{routes}\n"
        "Write /routes to see them and /verify all when they are right.",
    },
    "desk_link": {
        "sv": "Här är din inloggningslänk till skrivbordet. Den fungerar en gång och i 10 minuter:\n{link}",
        "en": "Here is your sign-in link to the desk. It works once, for 10 minutes:\n{link}",
    },
    # --- bad input ------------------------------------------------------------------------
    "empty_message": {
        "sv": "Ditt meddelande var tomt. Skriv din fråga med ord.",
        "en": "Your message was empty. Please write your question in words.",
    },
    "too_long": {
        "sv": (
            "Ditt meddelande är mycket långt ({length} tecken). Jag har sparat hela texten "
            "och sorterat frågan utifrån början av den."
        ),
        "en": (
            "Your message is very long ({length} characters). I have saved all of it "
            "and sorted the question by its beginning."
        ),
    },
    "non_text": {
        "sv": (
            "Jag kan bara läsa text. Skriv din fråga med ord. "
            "Vill du skicka en fil eller bild? Skriv först frågan, "
            "så får du kontaktuppgifter till rätt förvaltning."
        ),
        "en": (
            "I can only read text. Please write your question in words. "
            "Want to send a file or picture? Write the question first and you will get "
            "the right department's contact details."
        ),
    },
    "rate_limited": {
        "sv": "Du skickar många meddelanden på kort tid. Vänta en stund och skriv sedan igen.",
        "en": "You are sending many messages in a short time. Please wait a moment.",
    },
    "error": {
        "sv": "Något gick fel hos mig. Ditt meddelande är sparat. Försök gärna igen om en stund.",
        "en": "Something went wrong on my side. Your message is saved. Please try again later.",
    },
    # --- routing table and staff administration: input problems (db/validation.py) -------
    "admin_err_email": {
        "sv": "Det ser inte ut som en e-postadress: {value}. Skriv till exempel namn@kommun.se.",
        "en": "That does not look like an e-mail address: {value}. Example: name@kommun.se.",
    },
    "admin_err_phone": {
        "sv": "Telefonnumret går inte att använda: {value}. Skriv siffror, gärna med +46 först.",
        "en": "That phone number cannot be used: {value}. Use digits, preferably starting +46.",
    },
    "admin_err_number": {
        "sv": "Skriv ett heltal som är större än noll (inte {value}).",
        "en": "Please give a whole number greater than zero (not {value}).",
    },
    "admin_err_telegram_id": {
        "sv": "{value} är inte ett Telegram-id. Ett id är bara siffror.",
        "en": "{value} is not a Telegram id. An id is digits only.",
    },
    "admin_err_department": {
        "sv": "Det finns ingen förvaltning med nyckeln {value}.",
        "en": "There is no department with the key {value}.",
    },
    "admin_err_intent": {
        "sv": "Ämnet {value} finns inte hos boten.",
        "en": "The bot has no topic called {value}.",
    },
    "admin_err_route": {
        "sv": "Det finns ingen väg för ämnet {value}.",
        "en": "There is no route for the topic {value}.",
    },
    "admin_err_role_text": {
        "sv": "Skriv vilken funktion kontakten har, till exempel Föreningsservice.",
        "en": "Please give the contact's function, for example Association service.",
    },
    "admin_err_no_contact": {
        "sv": "Förvaltningen {value} har ingen sådan kontakt ännu.",
        "en": "The department {value} has no such contact yet.",
    },
    "admin_err_absence_order": {
        "sv": "Sista dagen måste vara samma dag som första dagen eller senare.",
        "en": "The last day must be the same as the first day or later.",
    },
    "admin_err_field": {
        "sv": "Fältet {value} kan inte ändras här.",
        "en": "The field {value} cannot be changed here.",
    },
    "admin_err_kind": {
        "sv": "Välj kontakt (contact) eller ersättare (deputy), inte {value}.",
        "en": "Choose contact or deputy, not {value}.",
    },
    "admin_err_staff_role": {
        "sv": "Rollen {value} finns inte. Välj staff, coordinator eller admin.",
        "en": "There is no role {value}. Choose staff, coordinator or admin.",
    },
    "admin_err_staff_department": {
        "sv": "Personal med rollen staff måste höra till en förvaltning.",
        "en": "Staff members with the role staff must belong to a department.",
    },
    "admin_err_invite_role": {
        "sv": "En inbjudan kan bara ge rollen staff eller coordinator.",
        "en": "An invitation can only give the role staff or coordinator.",
    },
    # --- enquiry workflow and coordinator queue (db/workflow.py, db/queue.py) -------------
    "wf_forward": {
        "sv": (
            "Ny fråga från en förening\n"
            "Ärende: {reference}\n"
            "Förening: {association}\n"
            "Svara senast: {deadline}\n\n"
            "{question}\n\n"
            "Tryck Svara och skriv svaret. Hör frågan inte till er? Tryck Inte vårt."
        ),
        "en": (
            "New question from an association\n"
            "Reference: {reference}\n"
            "Association: {association}\n"
            "Answer by: {deadline}\n\n"
            "{question}\n\n"
            "Press Answer and write the answer. Not your question? Press Not ours."
        ),
    },
    "wf_reminder": {
        "sv": (
            "Påminnelse: ärende {reference} väntar på svar.\n"
            "Förening: {association}\n"
            "Svara senast: {deadline}. Annars går ärendet till samordnaren.\n\n"
            "{question}"
        ),
        "en": (
            "Reminder: enquiry {reference} is waiting for an answer.\n"
            "Association: {association}\n"
            "Answer by: {deadline}. After that it goes to the coordinator.\n\n"
            "{question}"
        ),
    },
    "wf_btn_answer": {"sv": "Svara", "en": "Answer"},
    "wf_btn_not_ours": {"sv": "Inte vårt", "en": "Not ours"},
    "wf_answer": {
        "sv": "Du har fått svar på ärende {reference}.\nSvar från {who}:\n\n{text}\n\nHjälpte svaret?",
        "en": (
            "You have an answer to enquiry {reference}.\nAnswer from {who}:\n\n{text}\n\n"
            "Did the answer help?"
        ),
    },
    "wf_btn_yes": {"sv": "Ja", "en": "Yes"},
    "wf_btn_no": {"sv": "Nej", "en": "No"},
    "wf_feedback_closed": {
        "sv": "Tack! Ärende {reference} är nu avslutat. Skriv en ny fråga när du vill.",
        "en": "Thank you! Enquiry {reference} is now closed. Write a new question whenever you like.",
    },
    "wf_feedback_reopened": {
        "sv": (
            "Tack för att du säger till. Kommunens samordnare tittar på ärende {reference} igen "
            "och hör av sig till dig."
        ),
        "en": (
            "Thank you for telling us. The municipality's coordinator will look at enquiry "
            "{reference} again and get back to you."
        ),
    },
    "wf_closed": {
        "sv": "Ärende {reference} är avslutat. {why}\nHar du en ny fråga? Skriv den här.",
        "en": "Enquiry {reference} is closed. {why}\nDo you have a new question? Write it here.",
    },
    "wf_closed_answered_elsewhere": {
        "sv": "Frågan har fått svar på annat sätt.",
        "en": "The question has been answered in another way.",
    },
    "wf_closed_duplicate": {
        "sv": "Samma fråga finns redan i ett annat ärende.",
        "en": "The same question is already in another enquiry.",
    },
    "wf_closed_spam": {"sv": "", "en": ""},
    "wf_closed_not_municipal": {
        "sv": "Frågan gäller inte kommunen, så vi kan tyvärr inte svara på den.",
        "en": "The question is not for the municipality, so we cannot answer it.",
    },
    "wf_closed_other": {
        "sv": "Samordnaren har avslutat ärendet.",
        "en": "The coordinator has closed the enquiry.",
    },
    "wf_rerouted": {
        "sv": (
            "Ärende {reference} är nu skickat till {department}. "
            "De svarar inom {sla_days} arbetsdagar. Du får svaret här."
        ),
        "en": (
            "Enquiry {reference} has now been sent to {department}. "
            "They answer within {sla_days} working days. You will get the answer here."
        ),
    },
    "wf_already_handled": {
        "sv": "Det här ärendet är redan hanterat.",
        "en": "This enquiry has already been handled.",
    },
    "wf_dept_answer_prompt": {
        "sv": "Skriv svaret till föreningen som svar på det här meddelandet (ärende {reference}).",
        "en": "Write the answer to the association as a reply to this message (enquiry {reference}).",
    },
    "wf_dept_answer_sent": {
        "sv": "Tack! Svaret är skickat till föreningen (ärende {reference}).",
        "en": "Thank you! The answer has been sent to the association (enquiry {reference}).",
    },
    "wf_dept_not_ours_done": {
        "sv": "Tack! Samordnaren tar över ärende {reference}.",
        "en": "Thank you! The coordinator takes over enquiry {reference}.",
    },
    "q_card": {
        "sv": (
            "Ärende {reference} – {reason}\n"
            "Förening: {association}{rare}\n"
            "Väntat: {waited}\n"
            "Förslag: {guesses}\n"
            "Tagen av: {claimed}\n\n"
            "{question}"
        ),
        "en": (
            "Enquiry {reference} – {reason}\n"
            "Association: {association}{rare}\n"
            "Waited: {waited}\n"
            "Suggestions: {guesses}\n"
            "Claimed by: {claimed}\n\n"
            "{question}"
        ),
    },
    "q_rare": {"sv": " (hör sällan av sig)", "en": " (rarely in contact)"},
    "q_unknown_association": {"sv": "okänd förening", "en": "unknown association"},
    "q_nobody": {"sv": "ingen än", "en": "nobody yet"},
    "q_no_guesses": {"sv": "inga", "en": "none"},
    "q_waited": {
        "sv": "{duration} ({work} arbetstimmar)",
        "en": "{duration} ({work} working hours)",
    },
    "q_reason_unsure": {"sv": "osäker tolkning", "en": "uncertain interpretation"},
    "q_reason_out_of_scope": {"sv": "utanför kommunens område", "en": "outside the municipality"},
    "q_reason_human": {"sv": "vill prata med en människa", "en": "wants to talk to a person"},
    "q_reason_not_ours": {
        "sv": "{department} säger att frågan inte är deras",
        "en": "{department} says it is not theirs",
    },
    "q_reason_not_helped": {
        "sv": "föreningen tyckte inte att svaret hjälpte",
        "en": "the association says the answer did not help",
    },
    "q_reason_sla": {
        "sv": "{department} har inte svarat i tid",
        "en": "{department} did not answer in time",
    },
    "q_reason_unavailable": {
        "sv": "tolkningen var inte tillgänglig",
        "en": "interpretation was unavailable",
    },
    "q_btn_claim": {"sv": "Ta ärendet", "en": "Claim"},
    "q_btn_answer": {"sv": "Svara", "en": "Answer"},
    "q_btn_route": {"sv": "Skicka till förvaltning", "en": "Route to department"},
    "q_btn_close": {"sv": "Avsluta", "en": "Close"},
    "q_close_answered_elsewhere": {"sv": "Besvarad på annat sätt", "en": "Answered elsewhere"},
    "q_close_duplicate": {"sv": "Dubblett", "en": "Duplicate"},
    "q_close_spam": {"sv": "Skräp", "en": "Spam"},
    "q_close_not_municipal": {"sv": "Inte kommunens fråga", "en": "Not municipal"},
    "q_close_other": {"sv": "Annat", "en": "Other"},
    "q_claimed": {"sv": "Du har tagit ärende {reference}.", "en": "You have claimed {reference}."},
    "q_claimed_by_other": {
        "sv": "Ärendet är redan taget av {who}.",
        "en": "The enquiry is already claimed by {who}.",
    },
    "q_resolved": {
        "sv": "Ärendet är redan hanterat i kön.",
        "en": "The enquiry has already been handled in the queue.",
    },
    "q_answer_prompt": {
        "sv": "Skriv svaret till föreningen som svar på det här meddelandet (ärende {reference}).",
        "en": "Write the answer to the association as a reply to this message (enquiry {reference}).",
    },
    "q_routed": {
        "sv": "Ärende {reference} är skickat till {department}.",
        "en": "Enquiry {reference} has been sent to {department}.",
    },
    "q_closed": {"sv": "Ärende {reference} är avslutat.", "en": "Enquiry {reference} is closed."},
    "q_pick_department": {"sv": "Välj förvaltning:", "en": "Choose a department:"},
    "q_pick_reason": {"sv": "Varför avslutas ärendet?", "en": "Why is it closed?"},
    # --- privacy and retention (db/personal_data.py, bot/cli_privacy.py) -------------------
    "q_reason_erasure": {
        "sv": "begäran om radering av personuppgifter",
        "en": "request to erase personal data",
    },
    "privacy_erasure_request": {
        "sv": "Begäran om radering av personuppgifter",
        "en": "Request to erase personal data",
    },
}


def normalise_language(language: str | None) -> str:
    """Return a supported language code, falling back to Swedish."""
    return language if language in LANGUAGES else DEFAULT_LANGUAGE


def t(key: str, language: str | None = None, /, **values: Any) -> str:
    """Return the text for a key in a language, with values filled in."""
    variants = TEXTS[key]
    template = variants.get(normalise_language(language)) or variants[DEFAULT_LANGUAGE]
    return template.format(**values) if values else template
