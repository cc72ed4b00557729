/* Unit tests for json: the reader against RFC 8259 (valid and invalid texts
 * named after the JSONTestSuite classes y_ and n_; its i_ cases are
 * decided here: lone surrogates and invalid UTF-8 are rejected), the token
 * layout, the depth and token limits, the accessors, and the writer:
 * rt_json_escape and rt_jbuf, including a round trip of arbitrary bytes
 * through escape and parse against a reference built from the definition
 * of well-formed UTF-8. Every parse runs on an exact-size heap copy so ASan
 * catches a read past the end. */
#define RT_IMPLEMENTATION
#include "../../rt.h"
#include "../rt_test.h"

#include <stdlib.h>

#define Y 1 /* valid: any token count */

typedef struct {
    const char *name;
    const char *s;
    size_t n;
    int want; /* Y, or the error */
} jcase;

#define CASE(name, s, want) {name, s, sizeof(s) - 1, want}

static const jcase cases[] = {
    /* ---- y_: structure */
    CASE("y_array_arraysWithSpaces", "[[]   ]", Y),
    CASE("y_array_empty", "[]", Y),
    CASE("y_array_empty-string", "[\"\"]", Y),
    CASE("y_array_false", "[false]", Y),
    CASE("y_array_heterogeneous", "[null, 1, \"1\", {}]", Y),
    CASE("y_array_null", "[null]", Y),
    CASE("y_array_with_1_and_newline", "[1\n]", Y),
    CASE("y_array_with_leading_space", " [1]", Y),
    CASE("y_array_with_several_null", "[1,null,null,null,2]", Y),
    CASE("y_array_with_trailing_space", "[2] ", Y),
    CASE("y_object_basic", "{\"asd\":\"sdf\"}", Y),
    CASE("y_object", "{\"asd\":\"sdf\", \"dfg\":\"fgh\"}", Y),
    CASE("y_object_duplicated_key", "{\"a\":\"b\",\"a\":\"c\"}", Y),
    CASE("y_object_duplicated_key_and_value", "{\"a\":\"b\",\"a\":\"b\"}", Y),
    CASE("y_object_empty", "{}", Y),
    CASE("y_object_empty_key", "{\"\":0}", Y),
    CASE("y_object_escaped_null_in_key", "{\"foo\\u0000bar\": 42}", Y),
    CASE("y_object_extreme_numbers", "{ \"min\": -1.0e+28, \"max\": 1.0e+28 }", Y),
    CASE("y_object_long_strings", "{\"x\":[{\"id\": \"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}], "
                                  "\"id\": \"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}", Y),
    CASE("y_object_simple", "{\"a\":[]}", Y),
    CASE("y_object_with_newlines", "{\n\"a\": \"b\"\n}", Y),
    CASE("y_structure_lonely_false", "false", Y),
    CASE("y_structure_lonely_int", "42", Y),
    CASE("y_structure_lonely_negative_real", "-0.1", Y),
    CASE("y_structure_lonely_null", "null", Y),
    CASE("y_structure_lonely_string", "\"asd\"", Y),
    CASE("y_structure_lonely_true", "true", Y),
    CASE("y_structure_string_empty", "\"\"", Y),
    CASE("y_structure_trailing_newline", "[\"a\"]\n", Y),
    CASE("y_structure_true_in_array", "[true]", Y),
    CASE("y_structure_whitespace_array", " [] ", Y),
    CASE("y_structure_all_whitespace", " \t\r\n[ \t\r\n1 \t\r\n] \t\r\n", Y),
    CASE("y_protocol_publish",
         "{\"type\":\"publish\",\"id\":7,\"room\":\"lobby\",\"data\":\"hello\"}", Y),
    /* ---- y_: numbers */
    CASE("y_number", "[123e65]", Y),
    CASE("y_number_0e+1", "[0e+1]", Y),
    CASE("y_number_0e1", "[0e1]", Y),
    CASE("y_number_after_space", "[ 4]", Y),
    CASE("y_number_double_close_to_zero",
         "[-0.000000000000000000000000000000000000000000000000000000000000000000000000000001]", Y),
    CASE("y_number_int_with_exp", "[20e1]", Y),
    CASE("y_number_minus_zero", "[-0]", Y),
    CASE("y_number_negative_int", "[-123]", Y),
    CASE("y_number_negative_one", "[-1]", Y),
    CASE("y_number_negative_zero", "[-0]", Y),
    CASE("y_number_real_capital_e", "[1E22]", Y),
    CASE("y_number_real_capital_e_neg_exp", "[1E-2]", Y),
    CASE("y_number_real_capital_e_pos_exp", "[1E+2]", Y),
    CASE("y_number_real_exponent", "[123e45]", Y),
    CASE("y_number_real_fraction_exponent", "[123.456e78]", Y),
    CASE("y_number_real_neg_exp", "[1e-2]", Y),
    CASE("y_number_real_pos_exponent", "[1e+2]", Y),
    CASE("y_number_simple_int", "[123]", Y),
    CASE("y_number_simple_real", "[123.456789]", Y),
    CASE("y_number_huge_exp", "[0.4e00669999999999999999999999999999999999999999999999999999999"
                              "9999999999999999999999999999999999999999999999969999999006]", Y),
    CASE("y_number_too_big_pos_int", "[100000000000000000000]", Y),
    CASE("y_number_very_big_negative_int",
         "[-237462374673276894279832749832423479823246327846]", Y),
    CASE("y_number_zero_fraction", "0.0", Y),
    /* ---- y_: strings */
    CASE("y_string_1_2_3_bytes_UTF-8_sequences", "[\"\\u0060\\u012a\\u12AB\"]", Y),
    CASE("y_string_accepted_surrogate_pair", "[\"\\uD801\\udc37\"]", Y),
    CASE("y_string_accepted_surrogate_pairs", "[\"\\ud83d\\ude39\\ud83d\\udc8d\"]", Y),
    CASE("y_string_allowed_escapes", "[\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"]", Y),
    CASE("y_string_backslash_and_u_escaped_zero", "[\"\\\\u0000\"]", Y),
    CASE("y_string_backslash_doublequotes", "[\"\\\"\"]", Y),
    CASE("y_string_comments", "[\"a/*b*/c/*d//e\"]", Y),
    CASE("y_string_double_escape_a", "[\"\\\\a\"]", Y),
    CASE("y_string_double_escape_n", "[\"\\\\n\"]", Y),
    CASE("y_string_escaped_control_character", "[\"\\u0012\"]", Y),
    CASE("y_string_escaped_noncharacter", "[\"\\uFFFF\"]", Y),
    CASE("y_string_in_array", "[\"asd\"]", Y),
    CASE("y_string_in_array_with_leading_space", "[ \"asd\"]", Y),
    CASE("y_string_last_surrogates_1_and_2", "[\"\\uDBFF\\uDFFF\"]", Y),
    CASE("y_string_nbsp_uescaped", "[\"new\\u00A0line\"]", Y),
    CASE("y_string_nonCharacterInUTF-8_U+10FFFF", "[\"\xf4\x8f\xbf\xbf\"]", Y),
    CASE("y_string_nonCharacterInUTF-8_U+FFFF", "[\"\xef\xbf\xbf\"]", Y),
    CASE("y_string_null_escape", "[\"\\u0000\"]", Y),
    CASE("y_string_one-byte-utf-8", "[\"\\u002c\"]", Y),
    CASE("y_string_pi", "[\"\xcf\x80\"]", Y),
    CASE("y_string_reservedCharacterInUTF-8_U+1BFFF", "[\"\xf0\x9b\xbf\xbf\"]", Y),
    CASE("y_string_simple_ascii", "[\"asd \"]", Y),
    CASE("y_string_space", "\" \"", Y),
    CASE("y_string_surrogates_U+1D11E_MUSICAL_SYMBOL_G_CLEF", "[\"\\uD834\\uDd1e\"]", Y),
    CASE("y_string_three-byte-utf-8", "[\"\\u0821\"]", Y),
    CASE("y_string_two-byte-utf-8", "[\"\\u0123\"]", Y),
    CASE("y_string_u+2028_line_sep", "[\"\xe2\x80\xa8\"]", Y),
    CASE("y_string_uEscape", "[\"\\u0061\\u30af\\u30EA\\u30b9\"]", Y),
    CASE("y_string_uescaped_newline", "[\"new\\u000Aline\"]", Y),
    CASE("y_string_unicode_2", "[\"\xe2\x8d\x82\xe3\x88\xb4\xe2\x8d\x82\"]", Y),
    CASE("y_string_unicode_escaped_double_quote", "[\"\\u0022\"]", Y),
    CASE("y_string_unicode_U+FDD0_nonchar", "[\"\\uFDD0\"]", Y),
    CASE("y_string_unicode_U+FFFE_nonchar", "[\"\\uFFFE\"]", Y),
    CASE("y_string_unicodeEscapedBackslash", "[\"\\u005C\"]", Y),
    CASE("y_string_utf8", "[\"\xe2\x82\xac\xf0\x9d\x84\x9e\"]", Y),
    CASE("y_string_with_del_character", "[\"a\x7f" "a\"]", Y),
    /* ---- n_: arrays and structure */
    CASE("n_array_1_true_without_comma", "[1 true]", RT_E_PROTO),
    CASE("n_array_a_invalid_utf8", "[a\xe5]", RT_E_PROTO),
    CASE("n_array_colon_instead_of_comma", "[\"\": 1]", RT_E_PROTO),
    CASE("n_array_comma_after_close", "[\"\"],", RT_E_PROTO),
    CASE("n_array_comma_and_number", "[,1]", RT_E_PROTO),
    CASE("n_array_double_comma", "[1,,2]", RT_E_PROTO),
    CASE("n_array_double_extra_comma", "[\"x\",,]", RT_E_PROTO),
    CASE("n_array_extra_close", "[\"x\"]]", RT_E_PROTO),
    CASE("n_array_extra_comma", "[\"\",]", RT_E_PROTO),
    CASE("n_array_incomplete", "[\"x\"", RT_E_PROTO),
    CASE("n_array_incomplete_invalid_value", "[x", RT_E_PROTO),
    CASE("n_array_inner_array_no_comma", "[3[4]]", RT_E_PROTO),
    CASE("n_array_invalid_utf8", "[\xff]", RT_E_PROTO),
    CASE("n_array_items_separated_by_semicolon", "[1:2]", RT_E_PROTO),
    CASE("n_array_just_comma", "[,]", RT_E_PROTO),
    CASE("n_array_just_minus", "[-]", RT_E_PROTO),
    CASE("n_array_missing_value", "[   , \"\"]", RT_E_PROTO),
    CASE("n_array_newlines_unclosed", "[\"a\",\n4\n,1,", RT_E_PROTO),
    CASE("n_array_number_and_comma", "[1,]", RT_E_PROTO),
    CASE("n_array_number_and_several_commas", "[1,,]", RT_E_PROTO),
    CASE("n_array_spaces_vertical_tab_formfeed", "[\"\va\"\\f]", RT_E_PROTO),
    CASE("n_array_star_inside", "[*]", RT_E_PROTO),
    CASE("n_array_unclosed", "[\"\"", RT_E_PROTO),
    CASE("n_array_unclosed_trailing_comma", "[1,", RT_E_PROTO),
    CASE("n_array_unclosed_with_new_lines", "[1,\n1\n,1", RT_E_PROTO),
    CASE("n_array_unclosed_with_object_inside", "[{}", RT_E_PROTO),
    CASE("n_incomplete_false", "[fals]", RT_E_PROTO),
    CASE("n_incomplete_null", "[nul]", RT_E_PROTO),
    CASE("n_incomplete_true", "[tru]", RT_E_PROTO),
    CASE("n_literal_cut", "nul", RT_E_PROTO),
    CASE("n_literal_trailing_letter", "truex", RT_E_PROTO),
    CASE("n_structure_angle_bracket_.", "<.>", RT_E_PROTO),
    CASE("n_structure_angle_bracket_null", "[<null>]", RT_E_PROTO),
    CASE("n_structure_array_trailing_garbage", "[1]x", RT_E_PROTO),
    CASE("n_structure_array_with_extra_array_close", "[1]]", RT_E_PROTO),
    CASE("n_structure_array_with_unclosed_string", "[\"asd]", RT_E_PROTO),
    CASE("n_structure_ascii-unicode-identifier", "a\xc3\xa5", RT_E_PROTO),
    CASE("n_structure_capitalized_True", "[True]", RT_E_PROTO),
    CASE("n_structure_close_unopened_array", "1]", RT_E_PROTO),
    CASE("n_structure_comma_instead_of_closing_brace", "{\"x\": true,", RT_E_PROTO),
    CASE("n_structure_double_array", "[][]", RT_E_PROTO),
    CASE("n_structure_end_array", "]", RT_E_PROTO),
    CASE("n_structure_incomplete_UTF8_BOM", "\xef\xbb{}", RT_E_PROTO),
    CASE("n_structure_lone-invalid-utf-8", "\xe5", RT_E_PROTO),
    CASE("n_structure_lone-open-bracket", "[", RT_E_PROTO),
    CASE("n_structure_no_data", "", RT_E_PROTO),
    CASE("n_structure_null-byte-outside-string", "[\0]", RT_E_PROTO),
    CASE("n_structure_number_with_trailing_garbage", "2@", RT_E_PROTO),
    CASE("n_structure_object_followed_by_closing_object", "{}}", RT_E_PROTO),
    CASE("n_structure_object_unclosed_no_value", "{\"\":", RT_E_PROTO),
    CASE("n_structure_object_with_comment", "{\"a\":/*comment*/\"b\"}", RT_E_PROTO),
    CASE("n_structure_object_with_trailing_garbage", "{\"a\": true} \"x\"", RT_E_PROTO),
    CASE("n_structure_open_array_apostrophe", "['", RT_E_PROTO),
    CASE("n_structure_open_array_comma", "[,", RT_E_PROTO),
    CASE("n_structure_open_array_open_object", "[{", RT_E_PROTO),
    CASE("n_structure_open_array_open_string", "[\"a", RT_E_PROTO),
    CASE("n_structure_open_array_string", "[\"a\"", RT_E_PROTO),
    CASE("n_structure_open_object", "{", RT_E_PROTO),
    CASE("n_structure_open_object_close_array", "{]", RT_E_PROTO),
    CASE("n_structure_open_object_comma", "{,", RT_E_PROTO),
    CASE("n_structure_open_object_open_array", "{[", RT_E_PROTO),
    CASE("n_structure_open_object_open_string", "{\"a", RT_E_PROTO),
    CASE("n_structure_open_object_string_with_apostrophes", "{'a'", RT_E_PROTO),
    CASE("n_structure_open_open", "[\"\\{[\"\\{[\"\\{[\"\\{", RT_E_PROTO),
    CASE("n_structure_single_star", "*", RT_E_PROTO),
    CASE("n_structure_single_space", " ", RT_E_PROTO),
    CASE("n_structure_whitespace_only", " \t\r\n", RT_E_PROTO),
    CASE("n_structure_trailing_#", "{\"a\":\"b\"}#{}", RT_E_PROTO),
    CASE("n_structure_U+2060_word_joined", "[\xe2\x81\xa0]", RT_E_PROTO),
    CASE("n_structure_uescaped_LF_before_string", "[\\u000A\"\"]", RT_E_PROTO),
    CASE("n_structure_unclosed_array_partial_null", "[ false, nul", RT_E_PROTO),
    CASE("n_structure_unclosed_array_unfinished_false", "[ true, fals", RT_E_PROTO),
    CASE("n_structure_unclosed_array_unfinished_true", "[ false, tru", RT_E_PROTO),
    CASE("n_structure_unclosed_object", "{\"asd\":\"asd\"", RT_E_PROTO),
    CASE("n_structure_unicode-identifier", "\xc3\xa5", RT_E_PROTO),
    CASE("n_structure_UTF8_BOM_no_data", "\xef\xbb\xbf", RT_E_PROTO),
    CASE("n_structure_UTF8_BOM_empty_object", "\xef\xbb\xbf{}", RT_E_PROTO),
    CASE("n_structure_whitespace_formfeed", "[\f]", RT_E_PROTO),
    CASE("n_structure_two_values", "1 2", RT_E_PROTO),
    CASE("n_structure_mismatched_close", "[}", RT_E_PROTO),
    CASE("n_structure_mismatched_close_object", "{\"a\":1]", RT_E_PROTO),
    /* ---- n_: objects */
    CASE("n_object_bad_value", "[\"x\", truth]", RT_E_PROTO),
    CASE("n_object_bracket_key", "{[: \"x\"}", RT_E_PROTO),
    CASE("n_object_comma_instead_of_colon", "{\"x\", null}", RT_E_PROTO),
    CASE("n_object_double_colon", "{\"x\"::\"b\"}", RT_E_PROTO),
    CASE("n_object_emoji", "{\xf0\x9f\x87\xa8\xf0\x9f\x87\xad}", RT_E_PROTO),
    CASE("n_object_garbage_at_end", "{\"a\":\"a\" 123}", RT_E_PROTO),
    CASE("n_object_key_with_single_quotes", "{key: 'value'}", RT_E_PROTO),
    CASE("n_object_missing_colon", "{\"a\" b}", RT_E_PROTO),
    CASE("n_object_missing_key", "{:\"b\"}", RT_E_PROTO),
    CASE("n_object_missing_semicolon", "{\"a\" \"b\"}", RT_E_PROTO),
    CASE("n_object_missing_value", "{\"a\":", RT_E_PROTO),
    CASE("n_object_no-colon", "{\"a\"", RT_E_PROTO),
    CASE("n_object_non_string_key", "{1:1}", RT_E_PROTO),
    CASE("n_object_null_key", "{null:null,null:null}", RT_E_PROTO),
    CASE("n_object_repeated_null_null", "{\"a\":\"b\",,\"c\":\"d\"}", RT_E_PROTO),
    CASE("n_object_several_trailing_commas", "{\"id\":0,,,,,}", RT_E_PROTO),
    CASE("n_object_single_quote", "{'a':0}", RT_E_PROTO),
    CASE("n_object_trailing_comma", "{\"id\":0,}", RT_E_PROTO),
    CASE("n_object_trailing_comment", "{\"a\":\"b\"}/**/", RT_E_PROTO),
    CASE("n_object_trailing_comment_slash_open", "{\"a\":\"b\"}//", RT_E_PROTO),
    CASE("n_object_two_commas_in_a_row", "{\"a\":\"b\",,\"c\":\"d\"}", RT_E_PROTO),
    CASE("n_object_unquoted_key", "{a: \"b\"}", RT_E_PROTO),
    CASE("n_object_unterminated-value", "{\"a\":\"a", RT_E_PROTO),
    CASE("n_object_with_single_string", "{ \"foo\" : \"bar\", \"a\" }", RT_E_PROTO),
    CASE("n_object_with_trailing_garbage", "{\"a\":\"b\"}#", RT_E_PROTO),
    /* ---- n_: numbers (RFC 8259 section 6 exactly) */
    CASE("n_number_++", "[++1234]", RT_E_PROTO),
    CASE("n_number_+1", "[+1]", RT_E_PROTO),
    CASE("n_number_+Inf", "[+Inf]", RT_E_PROTO),
    CASE("n_number_-01", "[-01]", RT_E_PROTO),
    CASE("n_number_-1.0.", "[-1.0.]", RT_E_PROTO),
    CASE("n_number_-2.", "[-2.]", RT_E_PROTO),
    CASE("n_number_-NaN", "[-NaN]", RT_E_PROTO),
    CASE("n_number_.-1", "[.-1]", RT_E_PROTO),
    CASE("n_number_.2e-3", "[.2e-3]", RT_E_PROTO),
    CASE("n_number_0.1.2", "[0.1.2]", RT_E_PROTO),
    CASE("n_number_0.3e+", "[0.3e+]", RT_E_PROTO),
    CASE("n_number_0.3e", "[0.3e]", RT_E_PROTO),
    CASE("n_number_0.e1", "[0.e1]", RT_E_PROTO),
    CASE("n_number_0_capital_E+", "[0E+]", RT_E_PROTO),
    CASE("n_number_0_capital_E", "[0E]", RT_E_PROTO),
    CASE("n_number_0e+", "[0e+]", RT_E_PROTO),
    CASE("n_number_0e", "[0e]", RT_E_PROTO),
    CASE("n_number_1.0e+", "[1.0e+]", RT_E_PROTO),
    CASE("n_number_1.0e-", "[1.0e-]", RT_E_PROTO),
    CASE("n_number_1.0e", "[1.0e]", RT_E_PROTO),
    CASE("n_number_1_000", "[1 000.0]", RT_E_PROTO),
    CASE("n_number_1eE2", "[1eE2]", RT_E_PROTO),
    CASE("n_number_2.e+3", "[2.e+3]", RT_E_PROTO),
    CASE("n_number_2.e-3", "[2.e-3]", RT_E_PROTO),
    CASE("n_number_2.e3", "[2.e3]", RT_E_PROTO),
    CASE("n_number_9.e+", "[9.e+]", RT_E_PROTO),
    CASE("n_number_Inf", "[Inf]", RT_E_PROTO),
    CASE("n_number_NaN", "[NaN]", RT_E_PROTO),
    CASE("n_number_U+FF11_fullwidth_digit_one", "[\xef\xbc\x91]", RT_E_PROTO),
    CASE("n_number_expression", "[1+2]", RT_E_PROTO),
    CASE("n_number_hex_1_digit", "[0x1]", RT_E_PROTO),
    CASE("n_number_hex_2_digits", "[0x42]", RT_E_PROTO),
    CASE("n_number_infinity", "[Infinity]", RT_E_PROTO),
    CASE("n_number_invalid+-", "[0e+-1]", RT_E_PROTO),
    CASE("n_number_invalid-negative-real", "[-123.123foo]", RT_E_PROTO),
    CASE("n_number_minus_infinity", "[-Infinity]", RT_E_PROTO),
    CASE("n_number_minus_sign_with_trailing_garbage", "[-foo]", RT_E_PROTO),
    CASE("n_number_minus_space_1", "[- 1]", RT_E_PROTO),
    CASE("n_number_neg_int_starting_with_zero", "[-012]", RT_E_PROTO),
    CASE("n_number_neg_real_without_int_part", "[-.123]", RT_E_PROTO),
    CASE("n_number_neg_with_garbage_at_end", "[-1x]", RT_E_PROTO),
    CASE("n_number_real_garbage_after_e", "[1ea]", RT_E_PROTO),
    CASE("n_number_real_with_invalid_utf8_after_e", "[1e\xe5]", RT_E_PROTO),
    CASE("n_number_real_without_fractional_part", "[1.]", RT_E_PROTO),
    CASE("n_number_starting_with_dot", "[.123]", RT_E_PROTO),
    CASE("n_number_with_alpha", "[1.2a-3]", RT_E_PROTO),
    CASE("n_number_with_alpha_char", "[1.8011670033376514H-308]", RT_E_PROTO),
    CASE("n_number_with_leading_zero", "[012]", RT_E_PROTO),
    CASE("n_number_top_level_leading_zero", "00", RT_E_PROTO),
    CASE("n_number_top_level_minus", "-", RT_E_PROTO),
    /* ---- n_: strings, escapes and surrogates */
    CASE("n_string_1_surrogate_then_escape", "[\"\\uD800\\\"]", RT_E_PROTO),
    CASE("n_string_1_surrogate_then_escape_u", "[\"\\uD800\\u\"]", RT_E_PROTO),
    CASE("n_string_1_surrogate_then_escape_u1", "[\"\\uD800\\u1\"]", RT_E_PROTO),
    CASE("n_string_1_surrogate_then_escape_u1x", "[\"\\uD800\\u1x\"]", RT_E_PROTO),
    CASE("n_string_accentuated_char_no_quotes", "[\xc3\xa9]", RT_E_PROTO),
    CASE("n_string_backslash_00", "[\"\\\0\"]", RT_E_PROTO),
    CASE("n_string_escape_x", "[\"\\x00\"]", RT_E_PROTO),
    CASE("n_string_escaped_backslash_bad", "[\"\\\\\\\"]", RT_E_PROTO),
    CASE("n_string_escaped_ctrl_char_tab", "[\"\\\t\"]", RT_E_PROTO),
    CASE("n_string_escaped_emoji", "[\"\\\xf0\x9f\x8c\x80\"]", RT_E_PROTO),
    CASE("n_string_incomplete_escape", "[\"\\\"]", RT_E_PROTO),
    CASE("n_string_incomplete_escaped_character", "[\"\\u00A\"]", RT_E_PROTO),
    CASE("n_string_incomplete_surrogate", "[\"\\uD834\\uDd\"]", RT_E_PROTO),
    CASE("n_string_incomplete_surrogate_escape_invalid", "[\"\\uD800\\uD800\\x\"]", RT_E_PROTO),
    CASE("n_string_invalid_backslash_esc", "[\"\\a\"]", RT_E_PROTO),
    CASE("n_string_invalid_unicode_escape", "[\"\\uqqqq\"]", RT_E_PROTO),
    CASE("n_string_invalid_utf8_after_escape", "[\"\\\xe5\"]", RT_E_PROTO),
    CASE("n_string_invalid-utf-8-in-escape", "[\"\\u\xe5\"]", RT_E_PROTO),
    CASE("n_string_leading_uescaped_thinspace", "[\\u0020\"asd\"]", RT_E_PROTO),
    CASE("n_string_no_quotes_with_bad_escape", "[\\n]", RT_E_PROTO),
    CASE("n_string_single_doublequote", "\"", RT_E_PROTO),
    CASE("n_string_single_quote", "['single quote']", RT_E_PROTO),
    CASE("n_string_single_string_no_double_quotes", "abc", RT_E_PROTO),
    CASE("n_string_start_escape_unclosed", "[\"\\", RT_E_PROTO),
    CASE("n_string_unescaped_ctrl_char", "[\"a\0a\"]", RT_E_PROTO),
    CASE("n_string_unescaped_newline", "[\"new\nline\"]", RT_E_PROTO),
    CASE("n_string_unescaped_tab", "[\"\t\"]", RT_E_PROTO),
    CASE("n_string_unescaped_0x1f", "[\"\x1f\"]", RT_E_PROTO),
    CASE("n_string_unicode_CapitalU", "\"\\UA66D\"", RT_E_PROTO),
    CASE("n_string_with_trailing_garbage", "\"\"x", RT_E_PROTO),
    CASE("n_string_surrogate_pair_reversed", "[\"\\uDC00\\uD800\"]", RT_E_PROTO),
    CASE("n_string_high_then_high", "[\"\\uD800\\uD800\"]", RT_E_PROTO),
    /* the suite's i_ surrogate cases: lone halves are rejected here */
    CASE("i_string_1st_surrogate_but_2nd_missing", "[\"\\uDADA\"]", RT_E_PROTO),
    CASE("i_string_1st_valid_surrogate_2nd_invalid", "[\"\\uD888\\u1234\"]", RT_E_PROTO),
    CASE("i_string_incomplete_surrogate_and_escape_valid", "[\"\\uD800\\n\"]", RT_E_PROTO),
    CASE("i_string_incomplete_surrogate_pair", "[\"\\uDd1ea\"]", RT_E_PROTO),
    CASE("i_string_incomplete_surrogates_escape_valid", "[\"\\uD800\\uD800\\n\"]", RT_E_PROTO),
    CASE("i_string_invalid_lonely_surrogate", "[\"\\ud800\"]", RT_E_PROTO),
    CASE("i_string_invalid_surrogate", "[\"\\ud800abc\"]", RT_E_PROTO),
    CASE("i_string_inverted_surrogates_U+1D11E", "[\"\\uDd1e\\uD834\"]", RT_E_PROTO),
    CASE("i_string_lone_second_surrogate", "[\"\\uDFAA\"]", RT_E_PROTO),
    /* the suite's i_ UTF-8 cases: RFC 8259 section 8.1 requires UTF-8 */
    CASE("i_string_invalid_utf-8", "[\"\xff\"]", RT_E_UTF8),
    CASE("i_string_iso_latin_1", "[\"\xe9\"]", RT_E_UTF8),
    CASE("i_string_lone_utf8_continuation_byte", "[\"\x81\"]", RT_E_UTF8),
    CASE("i_string_not_in_unicode_range", "[\"\xf4\xbf\xbf\xbf\"]", RT_E_UTF8),
    CASE("i_string_overlong_sequence_2_bytes", "[\"\xc0\xaf\"]", RT_E_UTF8),
    CASE("i_string_overlong_sequence_6_bytes", "[\"\xfc\x83\xbf\xbf\xbf\xbf\"]", RT_E_UTF8),
    CASE("i_string_overlong_sequence_6_bytes_null", "[\"\xfc\x80\x80\x80\x80\x80\"]", RT_E_UTF8),
    CASE("i_string_truncated-utf-8", "[\"\xe0\xff\"]", RT_E_UTF8),
    CASE("i_string_UTF-8_invalid_sequence", "[\"\xe6\x97\xa5\xd1\x88\xfa\"]", RT_E_UTF8),
    CASE("i_string_UTF8_surrogate_U+D800", "[\"\xed\xa0\x80\"]", RT_E_UTF8),
    CASE("i_string_UTF-16LE_with_BOM", "\xff\xfe[\0\"\0\xe9\0\"\0]\0", RT_E_PROTO),
    CASE("n_string_utf8_cut_before_quote", "[\"\xe2\x82\"]", RT_E_UTF8),
    CASE("n_string_utf8_cut_at_end", "\"\xe2\x82", RT_E_UTF8),
    CASE("n_string_invalid_utf8_in_key", "{\"\xc3\":1}", RT_E_UTF8),
};

#define NCASES (sizeof cases / sizeof cases[0])
#define MAXTOK 64

/* rt_json_parse on an exact-size heap copy of s[0..n). */
static rt_result parse_copy(rt_json *d, char **copy, const char *s, size_t n, rt_json_tok *t,
                            size_t cap)
{
    *copy = (char *)calloc(n ? n : 1, 1);
    if (n)
        memcpy(*copy, s, n);
    return rt_json_parse(d, *copy, n, t, cap);
}

/* The tokens of a parsed document describe a well-formed tree: each
 * container's children, counted by walking `next`, match its size and end
 * where it ends; object keys are strings; spans nest inside their parent;
 * every string copies out at its size and compares equal to that copy. */
static int check_subtree(const rt_json *d, int t, int depth)
{
    const rt_json_tok *k = &d->toks[t];
    int c = t + 1;
    uint32_t m, per = k->type == RT_JSON_OBJECT ? 2 : 1;
    CHECK(k->start < k->end && k->end <= d->len);
    CHECK(k->next > (uint32_t)t && k->next <= (uint32_t)d->n);
    if (k->type != RT_JSON_OBJECT && k->type != RT_JSON_ARRAY) {
        CHECK_EQ(k->next, t + 1);
        return t + 1;
    }
    CHECK(depth <= RT_JSON_MAX_DEPTH);
    for (m = 0; m < k->size * per; m++) {
        if (per == 2 && m % 2 == 0)
            CHECK_EQ(d->toks[c].type, RT_JSON_STRING);
        CHECK(d->toks[c].start > k->start && d->toks[c].end < k->end);
        c = check_subtree(d, c, depth + 1);
    }
    CHECK_EQ(c, (int)k->next);
    return c;
}

static void check_strings(const rt_json *d)
{
    char buf[256];
    size_t len = 0;
    int t;
    for (t = 0; t < d->n; t++) {
        if (d->toks[t].type != RT_JSON_STRING)
            continue;
        CHECK_EQ(rt_json_str(d, t, buf, sizeof buf, &len), RT_OK);
        CHECK_EQ(len, d->toks[t].size);
        CHECK(rt_utf8_valid(buf, len));
        if (!memchr(buf, 0, len))
            CHECK(rt_json_eq(d, t, buf));
    }
}

static void check_case(const jcase *c)
{
    rt_json d;
    rt_json_tok toks[MAXTOK];
    char *copy;
    rt_result r = parse_copy(&d, &copy, c->s, c->n, toks, MAXTOK);
    int ok = c->want == Y ? r > 0 : r == c->want;
    if (!ok)
        printf("#   %s: got %d (%s) at %zu\n", c->name, r, rt_result_str(r), d.err_pos);
    CHECK(ok);
    if (r > 0) {
        CHECK_EQ(r, d.n);
        CHECK_EQ(check_subtree(&d, 0, 1), d.n);
        check_strings(&d);
        /* exactly enough tokens is enough; one fewer is RT_E_LIMIT */
        CHECK_EQ(rt_json_parse(&d, copy, c->n, toks, (size_t)r), r);
        CHECK_EQ(rt_json_parse(&d, copy, c->n, toks, (size_t)r - 1), RT_E_LIMIT);
    } else {
        CHECK(d.err_pos <= c->n);
    }
    free(copy);
}

RT_TEST(rfc8259_cases)
{
    size_t i;
    for (i = 0; i < NCASES; i++)
        check_case(&cases[i]);
}

/* Every proper prefix of every case, on its own exact-size copy: no read
 * past the end, and a valid text whose root is a container or a string
 * never parses when cut anywhere before the root's last byte. */
static void check_prefixes(const jcase *c)
{
    rt_json d;
    rt_json_tok toks[MAXTOK];
    char *copy;
    size_t k, root_end = 0;
    rt_result r = parse_copy(&d, &copy, c->s, c->n, toks, MAXTOK);
    if (r > 0 && strchr("[{\"", c->s[toks[0].start]))
        root_end = toks[0].end;
    free(copy);
    for (k = 0; k < c->n; k++) {
        r = parse_copy(&d, &copy, c->s, k, toks, MAXTOK);
        CHECK(r > 0 || r == RT_E_PROTO || r == RT_E_UTF8 || r == RT_E_LIMIT);
        if (k < root_end)
            CHECK(r < 0);
        free(copy);
    }
}

RT_TEST(every_prefix)
{
    size_t i;
    for (i = 0; i < NCASES; i++)
        check_prefixes(&cases[i]);
}

/* ---- Token layout and error positions ------------------------------------------- */

static rt_result parse_str(rt_json *d, const char *s, rt_json_tok *t, size_t cap)
{
    return rt_json_parse(d, s, strlen(s), t, cap);
}

RT_TEST(token_layout)
{
    static const char s[] = "{\"a\":[1,{\"b\":null}],\"c\":true}";
    rt_json d;
    rt_json_tok t[16];
    rt_str v;
    CHECK_EQ(parse_str(&d, s, t, 16), 9);
    CHECK_EQ(t[0].type, RT_JSON_OBJECT);
    CHECK_EQ(t[0].size, 2);
    CHECK_EQ(t[0].next, 9);
    CHECK_EQ(t[0].start, 0);
    CHECK_EQ(t[0].end, sizeof s - 1);
    CHECK_EQ(t[1].type, RT_JSON_STRING);
    CHECK_EQ(t[1].start, 1);
    CHECK_EQ(t[1].end, 4);
    CHECK_EQ(t[1].size, 1);
    CHECK_EQ(t[2].type, RT_JSON_ARRAY);
    CHECK_EQ(t[2].size, 2);
    CHECK_EQ(t[2].next, 7);
    CHECK_EQ(t[3].type, RT_JSON_NUMBER);
    CHECK_EQ(t[4].type, RT_JSON_OBJECT);
    CHECK_EQ(t[4].size, 1);
    CHECK_EQ(t[4].next, 7);
    CHECK_EQ(t[6].type, RT_JSON_NULL);
    CHECK_EQ(t[8].type, RT_JSON_TRUE);
    v = rt_json_raw(&d, 2);
    CHECK_EQ(v.n, 14);
    CHECK_MEM(v.p, "[1,{\"b\":null}]", 14);
    v = rt_json_raw(&d, 1);
    CHECK_MEM(v.p, "\"a\"", v.n);
    CHECK_EQ(rt_json_raw(&d, -1).n, 0);
    CHECK_EQ(rt_json_raw(&d, 9).n, 0);
    CHECK_EQ(rt_json_type_of(&d, 8), RT_JSON_TRUE);
    CHECK_EQ(rt_json_type_of(&d, -1), RT_JSON_NONE);
    CHECK_EQ(rt_json_type_of(&d, 9), RT_JSON_NONE);
}

RT_TEST(string_size_counts_unescaped_bytes)
{
    rt_json d;
    rt_json_tok t[4];
    /* \u00e9 is 2 bytes, \u20ac 3, a surrogate pair 4, \n 1, raw e-acute 2 */
    CHECK_EQ(parse_str(&d, "\"\\u00e9\\u20ac\\ud834\\udd1e\\n\xc3\xa9\"", t, 4), 1);
    CHECK_EQ(t[0].size, 12);
    CHECK_EQ(parse_str(&d, "\"plain\"", t, 4), 1);
    CHECK_EQ(t[0].size, t[0].end - t[0].start - 2);
}

typedef struct {
    const char *s;
    rt_result r;
    size_t pos;
} errpos;

RT_TEST(error_positions)
{
    static const errpos e[] = {
        {"", RT_E_PROTO, 0},          {"   ", RT_E_PROTO, 3},
        {"[1,]", RT_E_PROTO, 3},      {"{\"a\":1,}", RT_E_PROTO, 7},
        {"[1 2]", RT_E_PROTO, 3},     {"[\"a\x01\"]", RT_E_PROTO, 3},
        {"[\"\xff\"]", RT_E_UTF8, 2}, {"[\"ab\xe2\x82\"]", RT_E_UTF8, 6},
        {"[01]", RT_E_PROTO, 2},      {"[1.]", RT_E_PROTO, 3},
        {"[-]", RT_E_PROTO, 2},       {"[1e+]", RT_E_PROTO, 4},
        {"[\"\\q\"]", RT_E_PROTO, 2}, {"[\"\\ud800\"]", RT_E_PROTO, 2},
        {"[tru]", RT_E_PROTO, 1},     {"{]", RT_E_PROTO, 1},
        {"[1]x", RT_E_PROTO, 3},      {"[1", RT_E_PROTO, 2},
        {"\"abc", RT_E_PROTO, 4},
    };
    size_t i;
    for (i = 0; i < sizeof e / sizeof e[0]; i++) {
        rt_json d;
        rt_json_tok t[8];
        rt_result r = parse_str(&d, e[i].s, t, 8);
        if (r != e[i].r || d.err_pos != e[i].pos)
            printf("#   case %zu\n", i);
        CHECK_EQ(r, e[i].r);
        CHECK_EQ(d.err_pos, e[i].pos);
    }
}

/* ---- Limits -------------------------------------------------------------------------- */

/* open copies of `open` then close copies of `close` at the end, in an
 * exact-size heap block; returns the parse result. */
static rt_result parse_nested(const char *open, const char *mid, const char *close, size_t depth,
                              size_t *err_pos)
{
    size_t lo = strlen(open), lm = strlen(mid), lc = strlen(close);
    size_t n = depth * (lo + lc) + lm, i;
    char *s = (char *)malloc(n);
    rt_json_tok t[64];
    rt_json d;
    rt_result r;
    for (i = 0; i < depth; i++) {
        memcpy(s + i * lo, open, lo);
        memcpy(s + depth * lo + lm + i * lc, close, lc);
    }
    memcpy(s + depth * lo, mid, lm);
    r = rt_json_parse(&d, s, n, t, 64);
    *err_pos = d.err_pos;
    free(s);
    return r;
}

RT_TEST(depth_limit)
{
    size_t pos = 0;
    CHECK_EQ(RT_JSON_MAX_DEPTH, 16);
    CHECK_EQ(parse_nested("[", "", "]", 16, &pos), 16);
    CHECK_EQ(parse_nested("[", "", "]", 17, &pos), RT_E_LIMIT);
    CHECK_EQ(pos, 16);
    CHECK_EQ(parse_nested("[", "1", "]", 16, &pos), 17);
    CHECK_EQ(parse_nested("{\"a\":", "1", "}", 16, &pos), 16 * 2 + 1);
    CHECK_EQ(parse_nested("{\"a\":", "1", "}", 17, &pos), RT_E_LIMIT);
    CHECK_EQ(pos, 16 * 5);
    CHECK_EQ(parse_nested("[{\"a\":", "1", "}]", 8, &pos), 8 * 3 + 1);
    CHECK_EQ(parse_nested("[{\"a\":", "[]", "}]", 8, &pos), RT_E_LIMIT);
    CHECK_EQ(pos, 8 * 6);
    CHECK_EQ(parse_nested("[{\"a\":", "{}", "}]", 8, &pos), RT_E_LIMIT);
    CHECK_EQ(parse_nested("[{\"a\":", "[[]]", "}]", 7, &pos), 7 * 3 + 2);
}

/* Writes depth nested empty arrays at s; returns the length. */
static size_t nest(char *s, size_t depth)
{
    memset(s, '[', depth);
    memset(s + depth, ']', depth);
    return 2 * depth;
}

/* "[" a "," b "]" with a and b nested arrays of the given depths. */
static rt_result parse_siblings(size_t a, size_t b, size_t *err_pos)
{
    char s[128];
    rt_json d;
    rt_json_tok t[64];
    size_t n = 0;
    rt_result r;
    s[n++] = '[';
    n += nest(s + n, a);
    s[n++] = ',';
    n += nest(s + n, b);
    s[n++] = ']';
    r = rt_json_parse(&d, s, n, t, 64);
    *err_pos = r < 0 ? d.err_pos : 0;
    return r;
}

/* Depth goes down again as containers close: two 15-deep arrays side by
 * side inside one more are 16 deep, not 31. */
RT_TEST(depth_siblings_do_not_add_up)
{
    size_t pos = 0;
    CHECK_EQ(parse_siblings(15, 15, &pos), 31);
    CHECK_EQ(pos, 0);
    CHECK_EQ(parse_siblings(15, 16, &pos), RT_E_LIMIT);
    CHECK_EQ(pos, 1 + 30 + 1 + 15);
    CHECK_EQ(parse_siblings(16, 15, &pos), RT_E_LIMIT);
    CHECK_EQ(pos, 1 + 15);
}

RT_TEST(depth_100000_rejected_without_crash)
{
    size_t pos = 0;
    CHECK_EQ(parse_nested("[", "", "]", 100000, &pos), RT_E_LIMIT);
    CHECK_EQ(pos, 16);
    CHECK_EQ(parse_nested("[", "", "", 100000, &pos), RT_E_LIMIT);
    CHECK_EQ(parse_nested("{\"\":", "", "}", 100000, &pos), RT_E_LIMIT);
    CHECK_EQ(pos, 16 * 4);
}

RT_TEST(token_array_too_small)
{
    rt_json d;
    rt_json_tok t[4];
    CHECK_EQ(parse_str(&d, "[1,2,3]", t, 4), 4);
    CHECK_EQ(parse_str(&d, "[1,2,3]", t, 3), RT_E_LIMIT);
    CHECK_EQ(d.err_pos, 5); /* the value that found no token */
    CHECK_EQ(parse_str(&d, "1", t, 0), RT_E_LIMIT);
    CHECK_EQ(parse_str(&d, "1", NULL, 0), RT_E_LIMIT);
    CHECK_EQ(parse_str(&d, "{\"a\":1}", t, 2), RT_E_LIMIT);
    CHECK_EQ(parse_str(&d, "{\"a\":1}", t, 3), 3);
    /* syntax errors before the array fills are still syntax errors */
    CHECK_EQ(parse_str(&d, "[1,,2,3,4,5]", t, 4), RT_E_PROTO);
}

/* ---- Accessors -------------------------------------------------------------------- */

RT_TEST(protocol_message)
{
    static const char s[] = "{\"type\":\"publish\",\"id\":7,\"room\":\"lobby\",\"data\":\"hello\"}";
    rt_json d;
    rt_json_tok t[16];
    char buf[16];
    size_t len = 0;
    int64_t id = 0;
    CHECK_EQ(parse_str(&d, s, t, 16), 9);
    CHECK(rt_json_eq(&d, rt_json_get(&d, 0, "type"), "publish"));
    CHECK(!rt_json_eq(&d, rt_json_get(&d, 0, "type"), "publis"));
    CHECK(!rt_json_eq(&d, rt_json_get(&d, 0, "type"), "publisH"));
    CHECK_EQ(rt_json_int(&d, rt_json_get(&d, 0, "id"), &id), RT_OK);
    CHECK_EQ(id, 7);
    CHECK_EQ(rt_json_str(&d, rt_json_get(&d, 0, "room"), buf, sizeof buf, &len), RT_OK);
    CHECK_EQ(len, 5);
    CHECK_STR(buf, "lobby");
    CHECK_EQ(rt_json_get(&d, 0, "data"), 8);
    CHECK_EQ(rt_json_get(&d, 0, "missing"), -1);
    CHECK_EQ(rt_json_get(&d, 0, "publish"), -1); /* values are not keys */
    CHECK_EQ(rt_json_get(&d, 0, "Type"), -1);
    CHECK_EQ(rt_json_get(&d, 1, "type"), -1);  /* not an object */
    CHECK_EQ(rt_json_get(&d, -1, "type"), -1);
    CHECK_EQ(rt_json_get(&d, 99, "type"), -1);
}

RT_TEST(get_duplicates_nested_and_escaped_keys)
{
    static const char s[] =
        "{\"a\":1,\"o\":{\"a\":2,\"x\":[3]},\"a\":4,\"\\u0062\":5,\"n\\u0000ul\":6,\"\":7}";
    rt_json d;
    rt_json_tok t[32];
    int64_t v = 0;
    int o;
    CHECK(parse_str(&d, s, t, 32) > 0);
    /* RFC 8259 section 4 leaves duplicates open; the last one wins */
    CHECK_EQ(rt_json_int(&d, rt_json_get(&d, 0, "a"), &v), RT_OK);
    CHECK_EQ(v, 4);
    o = rt_json_get(&d, 0, "o");
    CHECK_EQ(rt_json_int(&d, rt_json_get(&d, o, "a"), &v), RT_OK);
    CHECK_EQ(v, 2);
    CHECK_EQ(rt_json_get(&d, o, "o"), -1);
    CHECK_EQ(rt_json_int(&d, rt_json_get(&d, 0, "b"), &v), RT_OK); /* \u0062 is b */
    CHECK_EQ(v, 5);
    CHECK_EQ(rt_json_int(&d, rt_json_get(&d, 0, ""), &v), RT_OK);
    CHECK_EQ(v, 7);
    CHECK_EQ(rt_json_get(&d, 0, "n"), -1); /* "n\0ul" is not "n" */
    CHECK_EQ(rt_json_get(&d, 0, "x"), -1); /* only direct members */
}

RT_TEST(eq_with_escapes)
{
    rt_json d;
    rt_json_tok t[4];
    CHECK_EQ(parse_str(&d, "\"a\\\"b\\\\c\\/d\\u00e9\\ud83d\\ude00\"", t, 4), 1);
    CHECK(rt_json_eq(&d, 0, "a\"b\\c/d\xc3\xa9\xf0\x9f\x98\x80"));
    CHECK(!rt_json_eq(&d, 0, "a\"b\\c/d\xc3\xa9\xf0\x9f\x98\x81"));
    CHECK(!rt_json_eq(&d, 0, "a\"b\\c/d\xc3\xa8\xf0\x9f\x98\x80"));
    CHECK(!rt_json_eq(&d, 0, "b\"b\\c/d\xc3\xa9\xf0\x9f\x98\x80"));
    CHECK(!rt_json_eq(&d, 0, "a\"b\\c/d"));
    CHECK(!rt_json_eq(&d, 0, ""));
    CHECK(!rt_json_eq(&d, -1, ""));
    CHECK_EQ(parse_str(&d, "[\"\",1,\"1\"]", t, 4), 4);
    CHECK(rt_json_eq(&d, 1, ""));
    CHECK(!rt_json_eq(&d, 2, "1")); /* a number is not a string */
    CHECK(rt_json_eq(&d, 3, "1"));
    CHECK(!rt_json_eq(&d, 0, ""));  /* nor is an array */
}

RT_TEST(str_copies_unescaped)
{
    rt_json d;
    rt_json_tok t[8];
    char buf[32];
    size_t len = 0;
    memset(buf, 'X', sizeof buf);
    CHECK_EQ(parse_str(&d, "[\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u0041\\u00e9\\u20AC\\uD834\\uDD1E\",1]",
                       t, 8), 3);
    CHECK_EQ(rt_json_str(&d, 1, buf, sizeof buf, &len), RT_OK);
    CHECK_EQ(len, 8 + 1 + 2 + 3 + 4);
    CHECK_MEM(buf, "\"\\/\b\f\n\r\tA\xc3\xa9\xe2\x82\xac\xf0\x9d\x84\x9e", 18);
    CHECK_EQ(buf[18], '\0');
    CHECK_EQ(buf[19], 'X');
    /* exactly size + 1 fits; size alone does not, and says how much */
    CHECK_EQ(rt_json_str(&d, 1, buf, 19, &len), RT_OK);
    len = 0;
    CHECK_EQ(rt_json_str(&d, 1, buf, 18, &len), RT_E_NOSPACE);
    CHECK_EQ(len, 18);
    CHECK_EQ(rt_json_str(&d, 1, NULL, 0, &len), RT_E_NOSPACE);
    CHECK_EQ(rt_json_str(&d, 1, buf, sizeof buf, NULL), RT_OK);
    CHECK_EQ(rt_json_str(&d, 2, buf, sizeof buf, &len), RT_E_PROTO);
    CHECK_EQ(rt_json_str(&d, 0, buf, sizeof buf, &len), RT_E_PROTO);
    CHECK_EQ(rt_json_str(&d, -1, buf, sizeof buf, &len), RT_E_NOTFOUND);
    CHECK_EQ(rt_json_str(&d, 3, buf, sizeof buf, &len), RT_E_INVAL);
}

RT_TEST(str_embedded_nul_and_empty)
{
    rt_json d;
    rt_json_tok t[4];
    char buf[8];
    size_t len = 9;
    CHECK_EQ(parse_str(&d, "\"a\\u0000b\"", t, 4), 1);
    CHECK_EQ(rt_json_str(&d, 0, buf, sizeof buf, &len), RT_OK);
    CHECK_EQ(len, 3);
    CHECK_MEM(buf, "a\0b", 4);
    CHECK_EQ(parse_str(&d, "\"\"", t, 4), 1);
    CHECK_EQ(rt_json_str(&d, 0, buf, 1, &len), RT_OK);
    CHECK_EQ(len, 0);
    CHECK_EQ(buf[0], '\0');
    CHECK_EQ(rt_json_str(&d, 0, buf, 0, &len), RT_E_NOSPACE);
}

typedef struct {
    const char *s;
    rt_result r;
    int64_t v;
} intcase;

RT_TEST(int_accessor)
{
    static const intcase c[] = {
        {"0", RT_OK, 0},
        {"-0", RT_OK, 0},
        {"7", RT_OK, 7},
        {"-7", RT_OK, -7},
        {"1234567890", RT_OK, 1234567890},
        {"9223372036854775807", RT_OK, INT64_MAX},
        {"-9223372036854775808", RT_OK, INT64_MIN},
        {"9223372036854775808", RT_E_LIMIT, 0},
        {"-9223372036854775809", RT_E_LIMIT, 0},
        {"18446744073709551616", RT_E_LIMIT, 0},
        {"99999999999999999999999999999999999999999999999999", RT_E_LIMIT, 0},
        {"1.0", RT_E_PROTO, 0},
        {"1e3", RT_E_PROTO, 0},
        {"1E3", RT_E_PROTO, 0},
        {"-1.5", RT_E_PROTO, 0},
        {"0e0", RT_E_PROTO, 0},
        {"99999999999999999999999.5", RT_E_PROTO, 0},
        {"\"7\"", RT_E_PROTO, 0},
        {"true", RT_E_PROTO, 0},
        {"null", RT_E_PROTO, 0},
        {"[7]", RT_E_PROTO, 0},
    };
    size_t i;
    for (i = 0; i < sizeof c / sizeof c[0]; i++) {
        rt_json d;
        rt_json_tok t[4];
        int64_t v = 12345;
        rt_result r;
        CHECK(parse_str(&d, c[i].s, t, 4) > 0);
        r = rt_json_int(&d, 0, &v);
        if (r != c[i].r)
            printf("#   %s\n", c[i].s);
        CHECK_EQ(r, c[i].r);
        CHECK(v == (r == RT_OK ? c[i].v : 12345)); /* untouched on error */
    }
}

RT_TEST(int_bool_missing_or_bad_index)
{
    rt_json d;
    rt_json_tok t[4];
    int64_t v;
    int b = 5;
    CHECK_EQ(parse_str(&d, "[true,false]", t, 4), 3);
    CHECK_EQ(rt_json_int(&d, -1, &v), RT_E_NOTFOUND);
    CHECK_EQ(rt_json_int(&d, 3, &v), RT_E_INVAL);
    CHECK_EQ(rt_json_bool(&d, 1, &b), RT_OK);
    CHECK_EQ(b, 1);
    CHECK_EQ(rt_json_bool(&d, 2, &b), RT_OK);
    CHECK_EQ(b, 0);
    b = 5;
    CHECK_EQ(rt_json_bool(&d, 0, &b), RT_E_PROTO);
    CHECK_EQ(rt_json_bool(&d, -1, &b), RT_E_NOTFOUND);
    CHECK_EQ(rt_json_bool(&d, 7, &b), RT_E_INVAL);
    CHECK_EQ(b, 5);
    CHECK_EQ(parse_str(&d, "[null,\"true\",1]", t, 4), 4);
    CHECK_EQ(rt_json_bool(&d, 1, &b), RT_E_PROTO);
    CHECK_EQ(rt_json_bool(&d, 2, &b), RT_E_PROTO);
    CHECK_EQ(rt_json_bool(&d, 3, &b), RT_E_PROTO);
}

RT_TEST(array_elements)
{
    rt_json d;
    rt_json_tok t[16];
    int64_t v = 0;
    CHECK_EQ(parse_str(&d, "[10,[20,21],{\"x\":[1]},30]", t, 16), 10);
    CHECK_EQ(rt_json_at(&d, 0, 0), 1);
    CHECK_EQ(rt_json_at(&d, 0, 1), 2);
    CHECK_EQ(rt_json_at(&d, 0, 2), 5);
    CHECK_EQ(rt_json_at(&d, 0, 3), 9);
    CHECK_EQ(rt_json_int(&d, rt_json_at(&d, 0, 3), &v), RT_OK);
    CHECK_EQ(v, 30);
    CHECK_EQ(rt_json_int(&d, rt_json_at(&d, rt_json_at(&d, 0, 1), 1), &v), RT_OK);
    CHECK_EQ(v, 21);
    CHECK_EQ(rt_json_at(&d, 0, 4), -1);
    CHECK_EQ(rt_json_at(&d, 5, 0), -1); /* an object */
    CHECK_EQ(rt_json_at(&d, 1, 0), -1); /* a number */
    CHECK_EQ(rt_json_at(&d, -1, 0), -1);
    CHECK_EQ(parse_str(&d, "[]", t, 16), 1);
    CHECK_EQ(rt_json_at(&d, 0, 0), -1);
}

/* The input is only borrowed: the accessors read it where it lies. */
RT_TEST(tokens_point_into_the_input)
{
    char s[] = "{\"k\":\"v\"}";
    rt_json d;
    rt_json_tok t[4];
    CHECK_EQ(parse_str(&d, s, t, 4), 3);
    CHECK(rt_json_raw(&d, 2).p == s + 5);
    s[6] = 'w';
    CHECK(rt_json_eq(&d, 2, "w"));
}

/* ---- The writer: rt_json_escape and rt_jbuf ------------------------------------------- */

typedef struct {
    const char *in;
    size_t n;
    const char *out;
} esccase;

#define ESC(in, out) {in, sizeof(in) - 1, out}

RT_TEST(escape_vectors)
{
    static const esccase c[] = {
        ESC("", ""),
        ESC("plain text / slash", "plain text / slash"),
        ESC("q\"b\\", "q\\\"b\\\\"),
        ESC("\n\r\t\b\f", "\\n\\r\\t\\b\\f"),
        ESC("\0\x01\x1f\x7f", "\\u0000\\u0001\\u001f\\u007f"),
        ESC("\x0b\x1b", "\\u000b\\u001b"),
        ESC("\xc3\xa9\xe2\x82\xac\xf0\x9d\x84\x9e", "\xc3\xa9\xe2\x82\xac\xf0\x9d\x84\x9e"),
        ESC("\xef\xbf\xbf\xf4\x8f\xbf\xbf", "\xef\xbf\xbf\xf4\x8f\xbf\xbf"),
        ESC("\xff", "\\ufffd"),
        ESC("a\xc3", "a\\ufffd"),
        ESC("\xc0\xaf", "\\ufffd\\ufffd"),
        ESC("\xed\xa0\x80", "\\ufffd\\ufffd\\ufffd"),
        ESC("\xf4\x90\x80\x80", "\\ufffd\\ufffd\\ufffd\\ufffd"),
        ESC("\xe2\x82" "a", "\\ufffd\\ufffda"),
        ESC("\x80\xbf", "\\ufffd\\ufffd"),
        ESC("\xf8\x88\x80\x80\x80", "\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd"),
    };
    size_t i;
    for (i = 0; i < sizeof c / sizeof c[0]; i++) {
        char buf[64];
        size_t want = strlen(c[i].out), got;
        memset(buf, '#', sizeof buf);
        got = rt_json_escape(buf, sizeof buf, c[i].in, c[i].n);
        if (got != want)
            printf("#   case %zu\n", i);
        CHECK_EQ(got, want);
        CHECK_MEM(buf, c[i].out, want);
        CHECK_EQ(buf[want], '#'); /* no NUL */
        CHECK_EQ(rt_json_escape(NULL, 0, c[i].in, c[i].n), want);
    }
}

RT_TEST(escape_short_buffer)
{
    static const char full[] = "a\\\"\\ufffd"; /* pieces of 1, 2 and 6 bytes */
    char buf[16];
    size_t cap, fit;
    /* With any cap the whole length comes back; the pieces that fit whole
     * are written, and nothing else. */
    for (cap = 0; cap <= 10; cap++) {
        fit = cap >= 9 ? 9 : cap >= 3 ? 3 : cap >= 1 ? 1 : 0;
        memset(buf, '#', sizeof buf);
        CHECK_EQ(rt_json_escape(buf, cap, "a\"\xff", 3), 9);
        CHECK_MEM(buf, full, fit);
        CHECK_EQ(buf[fit], '#');
    }
}

RT_TEST(jbuf_builds_a_message)
{
    rt_jbuf b;
    rt_json d;
    rt_json_tok t[8];
    int64_t v = 0;
    rt_jbuf_init(&b, NULL);
    rt_jbuf_puts(&b, "{\"name\":");
    rt_jbuf_str(&b, "a\"\n\xff", 4);
    rt_jbuf_puts(&b, ",\"n\":");
    rt_jbuf_uint(&b, 0);
    rt_jbuf_put(&b, ",\"m\":", 5);
    rt_jbuf_uint(&b, UINT64_MAX);
    rt_jbuf_put(&b, "}", 1);
    CHECK(!b.failed);
    CHECK_EQ(b.len, strlen("{\"name\":\"a\\\"\\n\\ufffd\",\"n\":0,\"m\":18446744073709551615}"));
    CHECK_MEM(b.p, "{\"name\":\"a\\\"\\n\\ufffd\",\"n\":0,\"m\":18446744073709551615}", b.len);
    CHECK_EQ(rt_json_parse(&d, b.p, b.len, t, 8), 7);
    CHECK(rt_json_eq(&d, rt_json_get(&d, 0, "name"), "a\"\n\xef\xbf\xbd"));
    CHECK_EQ(rt_json_int(&d, rt_json_get(&d, 0, "n"), &v), RT_OK);
    CHECK_EQ(v, 0);
    CHECK_EQ(rt_json_int(&d, rt_json_get(&d, 0, "m"), &v), RT_E_LIMIT);
    rt_jbuf_free(&b);
    CHECK(b.p == NULL);
    CHECK_EQ(b.len, 0);
}

RT_TEST(jbuf_grows)
{
    rt_jbuf b;
    size_t i;
    memset(&b, 0, sizeof b); /* zero-initialised works like init */
    for (i = 0; i < 1000; i++)
        rt_jbuf_put(&b, "0123456789", 10);
    CHECK(!b.failed);
    CHECK_EQ(b.len, 10000);
    CHECK(b.cap >= b.len);
    CHECK_MEM(b.p + 9990, "0123456789", 10);
    rt_jbuf_put(&b, NULL, 0);
    CHECK_EQ(b.len, 10000);
    rt_jbuf_free(&b);
}

typedef struct {
    int calls, fail_at;
} failer;

static void *fail_alloc(void *user, size_t n)
{
    failer *f = (failer *)user;
    return ++f->calls >= f->fail_at ? NULL : malloc(n);
}

static void *fail_realloc(void *user, void *p, size_t old_n, size_t new_n)
{
    failer *f = (failer *)user;
    (void)old_n;
    return ++f->calls >= f->fail_at ? NULL : realloc(p, new_n);
}

static void fail_free(void *user, void *p, size_t n)
{
    (void)user;
    (void)n;
    free(p);
}

RT_TEST(jbuf_allocation_failure_is_sticky)
{
    failer f = {0, 2};
    rt_allocator a;
    rt_jbuf b;
    char big[300];
    a.alloc = fail_alloc;
    a.realloc = fail_realloc;
    a.free = fail_free;
    a.user = &f;
    memset(big, 'x', sizeof big);
    rt_jbuf_init(&b, &a);
    rt_jbuf_puts(&b, "first");
    CHECK(!b.failed);
    rt_jbuf_put(&b, big, sizeof big); /* needs to grow: the allocator fails */
    CHECK(b.failed);
    CHECK_EQ(b.len, 5);
    rt_jbuf_puts(&b, "x");
    rt_jbuf_str(&b, "y", 1);
    rt_jbuf_uint(&b, 1);
    CHECK_EQ(b.len, 5);
    CHECK_MEM(b.p, "first", 5);
    rt_jbuf_free(&b);
}

/* ---- Round trip: arbitrary bytes -> escape -> parse -> the same bytes --------------- */

/* The reference: input with every byte that does not begin a well-formed
 * sequence replaced by U+FFFD, worked out from the code point each lead
 * byte would give (Unicode 3.9, D92). */
static size_t ref_replace(const unsigned char *p, size_t n, unsigned char *out)
{
    size_t i = 0, o = 0, len, k;
    uint32_t cp, min;
    while (i < n) {
        len = p[i] < 0x80 ? 1 : p[i] >= 0xC0 && p[i] < 0xE0 ? 2 : p[i] >= 0xE0 && p[i] < 0xF0 ? 3
            : p[i] >= 0xF0 && p[i] < 0xF8 ? 4 : 0;
        min = len == 2 ? 0x80 : len == 3 ? 0x800 : 0x10000;
        cp = len == 1 ? p[i] : len == 2 ? p[i] & 0x1Fu : len == 3 ? p[i] & 0x0Fu : p[i] & 0x07u;
        for (k = 1; len > 1 && k < len; k++) {
            if (i + k >= n || (p[i + k] & 0xC0) != 0x80)
                break;
            cp = cp << 6 | (p[i + k] & 0x3Fu);
        }
        if (len == 1 || (len > 1 && k == len && cp >= min && cp <= 0x10FFFF &&
                         (cp < 0xD800 || cp > 0xDFFF))) {
            memcpy(out + o, p + i, len);
            o += len;
            i += len;
        } else {
            memcpy(out + o, "\xef\xbf\xbd", 3);
            o += 3;
            i++;
        }
    }
    return o;
}

/* A deterministic generator (a 32-bit LCG), so failures reproduce. */
static uint32_t lcg(uint32_t *s)
{
    *s = *s * 1664525u + 1013904223u;
    return *s >> 8;
}

/* Bytes made to hit the interesting cases: ASCII, the escaped characters,
 * valid sequences of every length, and pieces of sequences. */
static size_t gen_bytes(uint32_t *seed, unsigned char *p, size_t max)
{
    static const char *const bits[] = {"a", "\"", "\\", "\n", "\x01", "\x7f", "\xc3\xa9",
                                       "\xe2\x82\xac", "\xf0\x9d\x84\x9e", "\xed\xa0\x80",
                                       "\xc0\x80", "\xe2\x82", "\xf4\x90\x80\x80", "\x80",
                                       "\xff", "\xef\xbf\xbd", "/", "\xf0\x9d"};
    size_t n = 0, want = lcg(seed) % max;
    while (n < want) {
        if (lcg(seed) % 3 == 0) {
            p[n++] = (unsigned char)lcg(seed);
        } else {
            const char *b = bits[lcg(seed) % (sizeof bits / sizeof bits[0])];
            size_t l = strlen(b);
            if (n + l > max)
                break;
            memcpy(p + n, b, l);
            n += l;
        }
    }
    return n;
}

static void round_trip(const unsigned char *in, size_t n)
{
    size_t need = rt_json_escape(NULL, 0, in, n), len = 0;
    char *q = (char *)malloc(need + 2), *back = (char *)malloc(3 * n + 1);
    unsigned char *ref = (unsigned char *)malloc(3 * n + 1);
    size_t refn = ref_replace(in, n, ref);
    rt_json d;
    rt_json_tok t[1];
    q[0] = '"';
    CHECK_EQ(rt_json_escape(q + 1, need, in, n), need);
    q[need + 1] = '"';
    CHECK_EQ(rt_json_parse(&d, q, need + 2, t, 1), 1);
    CHECK_EQ(t[0].size, refn);
    CHECK_EQ(rt_json_str(&d, 0, back, 3 * n + 1, &len), RT_OK);
    CHECK_EQ(len, refn);
    CHECK_MEM(back, ref, refn);
    free(q);
    free(back);
    free(ref);
}

RT_TEST(escape_parse_round_trip)
{
    uint32_t seed = 12345;
    unsigned char p[64];
    unsigned i, j;
    for (i = 0; i < 20000; i++)
        round_trip(p, gen_bytes(&seed, p, sizeof p));
    /* every one- and two-byte input */
    for (i = 0; i < 256; i++) {
        p[0] = (unsigned char)i;
        round_trip(p, 1);
        for (j = 0; j < 256; j++) {
            p[1] = (unsigned char)j;
            round_trip(p, 2);
        }
    }
}

/* And the other way: a JSON string with every escape form, read out and
 * written again, reads out the same. */
RT_TEST(parse_escape_round_trip)
{
    static const char s[] = "\"\\u0000\\u001F\\u007f \\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\uFFFD"
                            "\\uD800\\uDC00\\uDBFF\\uDFFF\xf0\x90\x80\x80\"";
    rt_json d;
    rt_json_tok t[1];
    char a[64], b[64], q[256];
    size_t la = 0, lb = 0, lq;
    CHECK_EQ(parse_str(&d, s, t, 1), 1);
    CHECK_EQ(rt_json_str(&d, 0, a, sizeof a, &la), RT_OK);
    q[0] = '"';
    lq = rt_json_escape(q + 1, sizeof q - 2, a, la);
    q[lq + 1] = '"';
    CHECK_EQ(rt_json_parse(&d, q, lq + 2, t, 1), 1);
    CHECK_EQ(rt_json_str(&d, 0, b, sizeof b, &lb), RT_OK);
    CHECK_EQ(la, 12 + 2 + 3 + 4 + 4 + 4);
    CHECK_MEM(a, "\0\x1f\x7f \"\\/\b\f\n\r\t\xc3\xa9\xef\xbf\xbd"
                 "\xf0\x90\x80\x80\xf4\x8f\xbf\xbf\xf0\x90\x80\x80", la);
    CHECK_EQ(la, lb);
    CHECK_MEM(a, b, la);
}

int main(void) { return rt_test_main(); }
