#!/usr/bin/env bash
# wsdl-check.sh checks every WSDL under soap/*/ with tools nobody here wrote:
#
#   1. xmllint --noout: the file is well-formed XML;
#   2. every embedded xsd:schema, extracted with the namespace declarations
#      in scope, compiles as a W3C XML Schema (xmllint --schema);
#   3. gSOAP's wsdl2h translates the WSDL (as a C++ toolkit user would);
#   4. optionally, for each SOAP envelope file given as an argument, the
#      element in its Body (and, for a fault, the element in its detail) is
#      valid against the extracted schema of its namespace — so the answers
#      the gateway writes (its golden files) match what its WSDL promises.
#
# Usage (from anywhere in the repository):
#   scripts/wsdl-check.sh [envelope.xml ...]
# Needs xmllint (Debian libxml2-utils) and wsdl2h (Debian gsoap). The Go test
# gateway.TestWSDLCheck runs it with the gateway's golden envelopes.
set -euo pipefail

# Envelope arguments are resolved before changing to the repository root.
envelopes=()
for a in "$@"; do
	if [ ! -f "$a" ]; then
		echo "wsdl-check: no such file: $a" >&2
		exit 2
	fi
	envelopes+=("$(cd "$(dirname "$a")" && pwd)/$(basename "$a")")
done
cd "$(dirname "$0")/.."
root=$(pwd)

for tool in xmllint wsdl2h; do
	if ! command -v "$tool" >/dev/null; then
		echo "wsdl-check: $tool not found (apt-get install libxml2-utils gsoap)" >&2
		exit 2
	fi
done

work=$(mktemp -d /tmp/wsdl-check.XXXXXX)
trap 'rm -rf "$work"' EXIT

shopt -s nullglob
wsdls=("$root"/soap/*/*.wsdl)
if [ ${#wsdls[@]} -eq 0 ]; then
	echo "wsdl-check: no soap/*/*.wsdl found" >&2
	exit 1
fi

status=0
fail() {
	echo "wsdl-check: FAIL: $*" >&2
	status=1
}

# extract_schema WSDL N OUT writes the N-th embedded schema of WSDL to OUT
# as a standalone document: xmllint prints the element without the namespace
# declarations it inherits (xmlns:xsd, xmlns:tns on wsdl:definitions), so
# the ones in scope that the start tag lacks are added to it.
extract_schema() {
	local wsdl=$1 n=$2 out=$3
	local sel="/*[local-name()='definitions']/*[local-name()='types']/*[local-name()='schema'][$n]"
	xmllint --xpath "$sel" "$wsdl" >"$out.body"
	xmllint --xpath "$sel/namespace::*" "$wsdl" | sed -n 's/^ *\(xmlns[:=].*\)$/\1/p' >"$out.ns"
	awk -v nsfile="$out.ns" '
		NR == 1 {
			tagend = index($0, ">")
			start = substr($0, 1, tagend)
			add = ""
			while ((getline decl < nsfile) > 0) {
				name = substr(decl, 1, index(decl, "=") - 1)
				if (name == "xmlns:xml") continue
				if (index(start, " " name "=") == 0) add = add " " decl
			}
			sp = index($0, " ")
			if (sp == 0 || sp > tagend) sp = tagend
			print substr($0, 1, sp - 1) add substr($0, sp)
			next
		}
		{ print }
	' "$out.body" >"$out"
	rm -f "$out.body" "$out.ns"
}

# compile_schema XSD: xmllint compiles the schema before validating; an
# instance it cannot validate (exit 3) still proves the schema compiled,
# while a schema error exits with 5.
compile_schema() {
	local xsd=$1 rc=0
	echo '<not-in-any-schema/>' >"$work/probe.xml"
	xmllint --noout --schema "$xsd" "$work/probe.xml" >"$work/compile.log" 2>&1 || rc=$?
	if [ "$rc" -ne 0 ] && [ "$rc" -ne 3 ]; then
		cat "$work/compile.log" >&2
		return 1
	fi
	return 0
}

declare -A schema_for # target namespace -> extracted schema file
i=0
for wsdl in "${wsdls[@]}"; do
	rel=${wsdl#"$root"/}
	if ! xmllint --noout "$wsdl"; then
		fail "$rel is not well-formed XML"
		continue
	fi
	echo "ok: $rel is well-formed (xmllint)"

	count=$(xmllint --xpath "count(/*[local-name()='definitions']/*[local-name()='types']/*[local-name()='schema'])" "$wsdl")
	for n in $(seq 1 "$count"); do
		i=$((i + 1))
		xsd="$work/schema-$i.xsd"
		extract_schema "$wsdl" "$n" "$xsd"
		tns=$(xmllint --xpath "string(/*/@targetNamespace)" "$xsd")
		if compile_schema "$xsd"; then
			echo "ok: $rel schema $n ($tns) compiles (xmllint --schema)"
			if [ -z "${schema_for[$tns]:-}" ]; then
				schema_for[$tns]=$xsd
			fi
		else
			fail "$rel schema $n ($tns) does not compile"
		fi
	done

	out="$work/$(basename "$wsdl" .wsdl).h"
	if wsdl2h -o "$out" "$wsdl" >"$work/wsdl2h.log" 2>&1 && [ -s "$out" ]; then
		if grep -qiE '(^|[^a-z])(error|warning)' "$work/wsdl2h.log"; then
			cat "$work/wsdl2h.log" >&2
			fail "$rel: wsdl2h reported problems"
		else
			echo "ok: $rel translated by wsdl2h ($(grep -c '' "$out") lines of C++ header)"
		fi
	else
		cat "$work/wsdl2h.log" >&2
		fail "$rel: wsdl2h failed"
	fi
done

# validate_element FILE XPATH WHAT: validates the element XPATH selects in
# FILE against the schema of its namespace.
validate_element() {
	local file=$1 xpath=$2 what=$3
	local elem="$work/element.xml"
	if ! xmllint --xpath "$xpath" "$file" >"$elem" 2>/dev/null; then
		return 1 # no such element
	fi
	local ns
	ns=$(xmllint --xpath "namespace-uri(/*)" "$elem")
	local xsd=${schema_for[$ns]:-}
	if [ -z "$xsd" ]; then
		fail "$what: no WSDL schema for namespace '$ns'"
		return 0
	fi
	if xmllint --noout --schema "$xsd" "$elem" >"$work/validate.log" 2>&1; then
		echo "ok: $what is valid against the schema of $ns"
	else
		cat "$work/validate.log" >&2
		fail "$what is not valid against the schema of $ns"
	fi
	return 0
}

for env in ${envelopes[@]+"${envelopes[@]}"}; do
	name=$(basename "$env")
	if ! xmllint --noout "$env"; then
		fail "$name is not well-formed XML"
		continue
	fi
	body="/*[local-name()='Envelope']/*[local-name()='Body']/*"
	if [ "$(xmllint --xpath "local-name($body)" "$env")" = "Fault" ]; then
		detail="$body/*[local-name()='detail' or local-name()='Detail']/*"
		validate_element "$env" "$detail" "$name fault detail" || echo "ok: $name is a fault without detail"
	else
		validate_element "$env" "$body" "$name body" || fail "$name has no Body element"
	fi
done

if [ "$status" -eq 0 ]; then
	echo "wsdl-check: all checks passed"
fi
exit "$status"
