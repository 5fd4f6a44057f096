/// Python `repr()` of JSON values, for Celery's `argsrepr`/`kwargsrepr` headers and result log lines,
/// which Flower and the worker logs show (`(4, 5)`, `{'a': 1}`, `'slept 2'`).
public enum PythonRepr {
    /// `repr(value)` for the Python object `json.loads` would make of it.
    public static func repr(_ value: JSONValue) -> String {
        var out = ""
        append(value, to: &out)
        return out
    }

    /// `repr(tuple(args))`: `(4, 5)`, `(4,)`, `()`.
    public static func tuple(_ args: [JSONValue]) -> String {
        // Appended into one String (short reprs such as `(1, 2)` stay inline, with no allocation).
        var out = "("
        for (index, value) in args.enumerated() {
            if index > 0 { out += ", " }
            append(value, to: &out)
        }
        out += args.count == 1 ? ",)" : ")"
        return out
    }

    /// `repr(dict)`: `{'a': 1}`.
    public static func dict(_ object: JSONObject) -> String {
        var out = ""
        append(object, to: &out)
        return out
    }

    private static func append(_ value: JSONValue, to out: inout String) {
        switch value {
        case .null: out += "None"
        case .bool(let b): out += b ? "True" : "False"
        case .int(let i): out += String(i)
        case .bigInt(let digits): out += digits
        case .double(let d):
            guard d.isFinite else { out += d.isNaN ? "nan" : (d < 0 ? "-inf" : "inf"); return }
            out += JSONValue.pythonFloat(d)
        case .string(let s): out += string(s)
        case .array(let a):
            out += "["
            for (index, element) in a.enumerated() {
                if index > 0 { out += ", " }
                append(element, to: &out)
            }
            out += "]"
        case .object(let o): append(o, to: &out)
        }
    }

    private static func append(_ object: JSONObject, to out: inout String) {
        out += "{"
        for (index, pair) in object.pairs.enumerated() {
            if index > 0 { out += ", " }
            out += string(pair.key)
            out += ": "
            append(pair.value, to: &out)
        }
        out += "}"
    }

    /// `repr(str)`: single quotes unless the text has a single quote and no double quote.
    public static func string(_ s: String) -> String {
        let quote: Character = (s.contains("'") && !s.contains("\"")) ? "\"" : "'"
        var out = String(quote)
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if Character(scalar) == quote {
                    out += "\\" + String(quote)
                } else if scalar.value < 0x20 || scalar.value == 0x7F {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\x" + (hex.count < 2 ? "0" : "") + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        out.append(quote)
        return out
    }
}
