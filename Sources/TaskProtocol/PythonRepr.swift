/// Python `repr()` of JSON values, for Celery's `argsrepr`/`kwargsrepr` headers and result log lines,
/// which Flower and the worker logs show (`(4, 5)`, `{'a': 1}`, `'slept 2'`).
public enum PythonRepr {
    /// `repr(value)` for the Python object `json.loads` would make of it.
    public static func repr(_ value: JSONValue) -> String {
        switch value {
        case .null: return "None"
        case .bool(let b): return b ? "True" : "False"
        case .int(let i): return String(i)
        case .bigInt(let digits): return digits
        case .double(let d):
            guard d.isFinite else { return d.isNaN ? "nan" : (d < 0 ? "-inf" : "inf") }
            return JSONValue.pythonFloat(d)
        case .string(let s): return string(s)
        case .array(let a): return "[" + a.map(repr).joined(separator: ", ") + "]"
        case .object(let o): return dict(o)
        }
    }

    /// `repr(tuple(args))`: `(4, 5)`, `(4,)`, `()`.
    public static func tuple(_ args: [JSONValue]) -> String {
        if args.count == 1 { return "(" + repr(args[0]) + ",)" }
        return "(" + args.map(repr).joined(separator: ", ") + ")"
    }

    /// `repr(dict)`: `{'a': 1}`.
    public static func dict(_ object: JSONObject) -> String {
        "{" + object.pairs.map { string($0.key) + ": " + repr($0.value) }.joined(separator: ", ") + "}"
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
