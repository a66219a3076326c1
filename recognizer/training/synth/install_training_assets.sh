#!/usr/bin/env bash
# Install the assets that the synthetic word renderer (recognizer/training/synth) trains from:
# Latin fonts from Debian fonts-* packages and English word lists for /usr/share/dict.
#
# Idempotent: packages already installed are not touched, and apt is not run at all when
# everything is present. Packages that this Debian release does not have are skipped with a
# warning. Needs root (or sudo) only when something is missing.
#
# Usage: recognizer/training/synth/install_training_assets.sh [--check]
#   --check   only report what is missing; exit 1 if anything is.
set -euo pipefail

# Grouped by style so that the mixture stays varied: the renderer samples families uniformly.
SERIF=(
    fonts-dejavu-core fonts-dejavu-extra fonts-liberation fonts-liberation2 fonts-noto-core
    fonts-urw-base35 fonts-texgyre fonts-crosextra-caladea fonts-croscore fonts-sil-gentiumplus
    fonts-sil-charis fonts-ebgaramond fonts-linuxlibertine fonts-vollkorn fonts-cardo
    fonts-oldstandard fonts-quattrocento fonts-adf-baskervald fonts-adf-accanthis
    fonts-goudybookletter fonts-century-catalogue fonts-fanwood fonts-lindenhill fonts-junicode
    fonts-roboto-slab fonts-yrsa-rasa fonts-freefont-ttf fonts-gnutypewriter fonts-courier-prime
)
SANS=(
    fonts-roboto-unhinted fonts-open-sans fonts-lato fonts-crosextra-carlito fonts-cantarell
    fonts-inter fonts-cabin fonts-karla fonts-oxygen fonts-clear-sans fonts-manrope fonts-sora
    fonts-b612 fonts-dosis fonts-junction fonts-tuffy fonts-go fonts-opendin fonts-play fonts-jura
    fonts-league-spartan fonts-beteckna fonts-allerta fonts-tiresias fonts-national-park
    fonts-roadgeek fonts-routed-gothic fonts-ocr-a fonts-ocr-b fonts-opendyslexic fonts-paratype
    fonts-sil-andika fonts-adf-gillius fonts-adf-switzera
)
CONDENSED_DISPLAY=(
    fonts-yanone-kaffeesatz fonts-comfortaa fonts-quicksand fonts-lobster fonts-lobstertwo
    fonts-cabinsketch fonts-cherrybomb fonts-leckerli-one fonts-eurofurence fonts-averia-gwf
    fonts-averia-sans-gwf fonts-averia-serif-gwf fonts-staypuft fonts-summersby fonts-engadget
    fonts-radisnoir fonts-okolaks fonts-millimetre fonts-ferrite-core fonts-fantasma
)
MONO=(
    fonts-noto-mono fonts-hack fonts-firacode fonts-jetbrains-mono fonts-inconsolata
    fonts-anonymous-pro fonts-fantasque-sans fonts-hermit fonts-mononoki fonts-league-mono
    fonts-agave fonts-3270
)
HANDWRITING=(
    fonts-dkg-handwriting fonts-humor-sans fonts-comic-neue fonts-dancingscript
    fonts-kaushanscript fonts-kristi fonts-breip fonts-femkeklaver fonts-sjfonts fonts-bwht
    fonts-rufscript fonts-ecolier-court fonts-tomsontalks fonts-havana fonts-isabella
    fonts-levien-typoscript
)
WORDLISTS=(wamerican wbritish)

PACKAGES=("${SERIF[@]}" "${SANS[@]}" "${CONDENSED_DISPLAY[@]}" "${MONO[@]}" "${HANDWRITING[@]}"
          "${WORDLISTS[@]}")

check_only=0
if [[ "${1:-}" == "--check" ]]; then
    check_only=1
fi

is_installed() {
    [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" == "install ok installed" ]]
}

missing=()
for pkg in "${PACKAGES[@]}"; do
    is_installed "$pkg" || missing+=("$pkg")
done

if [[ ${#missing[@]} -eq 0 ]]; then
    echo "training assets: all ${#PACKAGES[@]} packages already installed"
    exit 0
fi

if [[ $check_only -eq 1 ]]; then
    echo "training assets: ${#missing[@]} missing: ${missing[*]}"
    exit 1
fi

SUDO=()
if [[ $(id -u) -ne 0 ]]; then
    SUDO=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive

echo "training assets: ${#missing[@]} of ${#PACKAGES[@]} packages missing; updating apt lists"
"${SUDO[@]}" apt-get update -qq

# Keep only packages that this release offers (apt-cache policy shows a candidate version).
available=()
for pkg in "${missing[@]}"; do
    candidate=$(apt-cache policy "$pkg" 2>/dev/null | awk '/Candidate:/ {print $2}')
    if [[ -n "$candidate" && "$candidate" != "(none)" ]]; then
        available+=("$pkg")
    else
        echo "training assets: warning: $pkg is not available here, skipped" >&2
    fi
done

if [[ ${#available[@]} -gt 0 ]]; then
    echo "training assets: installing ${#available[@]} packages"
    "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${available[@]}"
fi

# The renderer caches its font list keyed on the font directory; a stale cache is detected
# by modification times, so nothing to clear here.
echo "training assets: done"
