"""Vendors' token shapes for the secrets detector: one table, data only.

Each row is ``(type, pattern, prefixes)``: the span type a match reports, the token's shape
as the vendor documents it (prefix, length, alphabet) and its prefixes in lower case,
which the detector searches for first (:func:`athena_core.privacy.secrets.secrets_detector`
tries the patterns only where a prefix is). Shapes whose prefix is a common string
(``pat``, ``KEY``, ``AAAA``, ``access-``) are rules of their own in the detector, as are
those that start with an id (Terraform Cloud's, Telegram's).
"""

from __future__ import annotations

__all__ = ["VENDOR_TOKENS", "VendorShape"]

#: ``(type, pattern, prefixes in lower case)``.
VendorShape = tuple[str, str, tuple[str, ...]]

#: The shapes of rounds 4 to 7.
_EARLIER: tuple[VendorShape, ...] = (
    ("linear_api_key", r"lin_(?:api|oauth)_[A-Za-z0-9]{40}", ("lin_",)),
    ("atlassian_api_token", r"ATATT3[A-Za-z0-9_=-]{60,}", ("atatt3",)),
    ("databricks_token", r"dapi[0-9a-f]{32}(?:-\d)?", ("dapi",)),
    ("doppler_token", r"dp\.(?:pt|st|sa|ct|scim|audit)\.(?:[a-z0-9_-]{1,40}\.)?[A-Za-z0-9]{40,44}",
     ("dp.",)),
    ("postman_api_key", r"PMAK-[0-9a-f]{24}-[0-9a-f]{34}", ("pmak-",)),
    ("newrelic_api_key", r"NR(?:AK|II|IQ|RA)-[A-Z0-9]{27}", ("nrak-", "nrii-", "nriq-", "nrra-")),
    ("sentry_token", r"sntry[su]_[A-Za-z0-9_=+/-]{60,}", ("sntry",)),
    ("grafana_token", r"glsa_[A-Za-z0-9]{32}_[0-9a-f]{8}", ("glsa_",)),
    ("pulumi_token", r"pul-[0-9a-f]{40}", ("pul-",)),
    ("vault_token", r"hv[sbr]\.[A-Za-z0-9_-]{24,}", ("hvs.", "hvb.", "hvr.")),
    ("tailscale_key", r"tskey-[a-z]+-[A-Za-z0-9]{6,}-[A-Za-z0-9]{16,}", ("tskey-",)),
    ("brevo_api_key", r"x(?:keysib|smtpsib)-[0-9a-f]{64}-[A-Za-z0-9]{16}",
     ("xkeysib-", "xsmtpsib-")),
    ("age_secret_key", r"AGE-SECRET-KEY-1[A-Z0-9]{58}", ("age-secret-key-",)),
    ("supabase_token", r"sbp_[0-9a-f]{40}|sb_secret_[A-Za-z0-9_-]{20,}", ("sbp_", "sb_secret_")),
    ("planetscale_token", r"pscale_(?:pw|tkn|oauth)_[A-Za-z0-9_.-]{32,64}", ("pscale_",)),
    ("notion_token", r"ntn_[A-Za-z0-9]{40,50}", ("ntn_",)),
    ("notion_token", r"secret_[A-Za-z0-9]{43}", ("secret_",)),
    ("groq_api_key", r"gsk_[A-Za-z0-9]{52}", ("gsk_",)),
    ("xai_api_key", r"xai-[A-Za-z0-9]{80}", ("xai-",)),
    ("mailgun_api_key", r"key-[0-9a-f]{32}", ("key-",)),
    ("openrouter_api_key", r"sk-or-v1-[0-9a-f]{64}", ("sk-or-v1-",)),
    # 1Password service accounts: ``ops_`` and base64url JSON, often over 800 characters.
    ("onepassword_token", r"ops_eyJ[A-Za-z0-9_-]{100,}", ("ops_eyj",)),
    ("braintree_token", r"access_token\$production\$[0-9a-z]{16}\$[0-9a-f]{32}",
     ("access_token$production$",)),
    # Defined Networking API keys, Cloudflare origin CA keys, Alibaba Cloud access key ids
    # and NuGet API keys, as the vendors document them.
    ("defined_networking_token", r"dnkey-[a-z0-9=_-]{26}-[a-z0-9=_-]{52}", ("dnkey-",)),
    ("cloudflare_origin_ca_key", r"v1\.0-[0-9a-f]{24}-[0-9a-f]{146}", ("v1.0-",)),
    ("alibaba_access_key", r"LTAI[A-Za-z0-9]{12,20}", ("ltai",)),
    ("nuget_api_key", r"oy2[a-z0-9]{43}", ("oy2",)),
)
#: The shapes round 8 added, each as its vendor documents it (prefix, length, alphabet).
_ROUND_8: tuple[VendorShape, ...] = (
    ("rubygems_api_key", r"rubygems_[0-9a-f]{48}", ("rubygems_",)),
    ("replicate_api_token", r"r8_[A-Za-z0-9]{37}", ("r8_",)),
    ("langsmith_api_key", r"lsv2_(?:pt|sk)_[0-9a-f]{32}_[0-9a-f]{10}", ("lsv2_",)),
    ("perplexity_api_key", r"pplx-[A-Za-z0-9]{48}", ("pplx-",)),
    ("flyio_token", r"fo1_[A-Za-z0-9_-]{43}|FlyV1 fm[12]a?_[A-Za-z0-9+/=_,-]{60,}",
     ("fo1_", "flyv1 fm")),
    ("dynatrace_token", r"dt0c01\.[A-Z0-9]{24}\.[A-Z0-9]{64}", ("dt0c01.",)),
    ("square_access_token", r"EAAA[A-Za-z0-9_-]{60}|sq0(?:atp|csp)-[A-Za-z0-9_-]{22,43}",
     ("eaaa", "sq0atp-", "sq0csp-")),
    ("clojars_token", r"CLOJARS_[a-z0-9]{60}", ("clojars_",)),
    ("pinecone_api_key", r"pcsk_[A-Za-z0-9]{4,8}_[A-Za-z0-9]{40,80}", ("pcsk_",)),
    ("docker_token", r"dckr_pat_[A-Za-z0-9_-]{27}", ("dckr_pat_",)),
    ("figma_token", r"figd_[A-Za-z0-9_-]{40}", ("figd_",)),
    ("sonarqube_token", r"sq[pua]_[0-9a-f]{40}", ("sqp_", "squ_", "sqa_")),
    ("buildkite_token", r"bkua_[0-9a-f]{40}", ("bkua_",)),
    ("grafana_cloud_token", r"glc_[A-Za-z0-9+/]{32,400}={0,2}", ("glc_",)),
    ("netlify_token", r"nfp_[A-Za-z0-9]{36}", ("nfp_",)),
    ("hubspot_token", r"pat-(?:na|eu)1-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}"
     r"-[0-9a-f]{12}", ("pat-na1-", "pat-eu1-")),
    ("contentful_token", r"CFPAT-[A-Za-z0-9_-]{43}", ("cfpat-",)),
    ("prefect_api_key", r"pnu_[A-Za-z0-9]{36}", ("pnu_",)),
    ("sourcegraph_token", r"sgp_(?:[0-9a-f]{16}_)?[0-9a-f]{40}", ("sgp_",)),
    ("easypost_api_key", r"EZ[AT]K[A-Za-z0-9]{54}", ("ezak", "eztk")),
    ("shippo_token", r"shippo_(?:live|test)_[0-9a-f]{40}", ("shippo_",)),
    ("duffel_token", r"duffel_(?:live|test)_[A-Za-z0-9_-]{43}", ("duffel_",)),
    ("nvidia_api_key", r"nvapi-[A-Za-z0-9_-]{64}", ("nvapi-",)),
    ("mapbox_secret_token", r"sk\.eyJ[A-Za-z0-9_-]{20,}\.[A-Za-z0-9_-]{20,}", ("sk.eyj",)),
    ("google_oauth_token", r"ya29\.[A-Za-z0-9_-]{30,}|1//0[A-Za-z0-9_-]{40,}", ("ya29.", "1//0")),
    ("bitbucket_app_password", r"ATBB[A-Za-z0-9_=.-]{32}", ("atbb",)),
    ("jfrog_token", r"AKCp[A-Za-z0-9]{69}|cmVmdGtu[A-Za-z0-9]{56}", ("akcp", "cmvmdgtu")),
    ("tencent_secret_id", r"AKID[A-Za-z0-9]{32}", ("akid",)),
    ("circleci_token", r"CCIPAT_[A-Za-z0-9]{22}_[0-9a-f]{40}", ("ccipat_",)),
    ("flutterwave_secret_key", r"FLWSECK(?:_TEST)?-[0-9a-f]{32}-X", ("flwseck",)),
    ("readme_api_key", r"rdme_[a-z0-9]{70}", ("rdme_",)),
)
#: Every vendor shape the detector reports.
VENDOR_TOKENS: tuple[VendorShape, ...] = _EARLIER + _ROUND_8
