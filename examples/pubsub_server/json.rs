//! The JSON the REST API accepts: one flat object whose values are strings,
//! arrays of strings, numbers, booleans or null (Pusher's trigger body:
//! `{"name": …, "channel": … | "channels": […], "data": …}`). Nesting past
//! an array of strings is refused; input is bounded by the HTTP reader.

/// A value of the flat object.
#[derive(Debug, PartialEq)]
pub(crate) enum Value {
    Str(String),
    Strs(Vec<String>),
    /// A number, boolean or null: accepted, not used.
    Other,
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while matches!(self.s.get(self.i), Some(b' ' | b'\t' | b'\r' | b'\n')) {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: u8) -> Result<(), String> {
        self.ws();
        if self.s.get(self.i) == Some(&c) {
            self.i += 1;
            Ok(())
        } else {
            Err(format!("expected '{}' at byte {}", c as char, self.i))
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.s.get(self.i).copied()
    }

    fn string(&mut self) -> Result<String, String> {
        self.eat(b'"')?;
        let mut out = Vec::new();
        loop {
            let c = *self.s.get(self.i).ok_or("unterminated string")?;
            self.i += 1;
            match c {
                b'"' => break,
                b'\\' => {
                    let e = *self.s.get(self.i).ok_or("unterminated escape")?;
                    self.i += 1;
                    let ch = match e {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            let hex = self
                                .s
                                .get(self.i..self.i + 4)
                                .and_then(|h| std::str::from_utf8(h).ok())
                                .and_then(|h| u32::from_str_radix(h, 16).ok())
                                .ok_or("bad \\u escape")?;
                            self.i += 4;
                            char::from_u32(hex).ok_or("\\u escape is not a character")?
                        }
                        _ => return Err("bad escape".into()),
                    };
                    let mut b = [0u8; 4];
                    out.extend_from_slice(ch.encode_utf8(&mut b).as_bytes());
                }
                c if c < 0x20 => return Err("control character in string".into()),
                c => out.push(c),
            }
        }
        String::from_utf8(out).map_err(|_| "string is not UTF-8".into())
    }

    fn scalar(&mut self) -> Result<(), String> {
        let start = self.i;
        while matches!(
            self.s.get(self.i),
            Some(b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E' | b'a'..=b'z')
        ) {
            self.i += 1;
        }
        let word = self.s.get(start..self.i).unwrap_or_default();
        let ok = matches!(word, b"true" | b"false" | b"null")
            || std::str::from_utf8(word).is_ok_and(|w| w.parse::<f64>().is_ok());
        if ok {
            Ok(())
        } else {
            Err(format!("unexpected value at byte {start}"))
        }
    }

    fn value(&mut self) -> Result<Value, String> {
        match self.peek() {
            Some(b'"') => self.string().map(Value::Str),
            Some(b'[') => {
                self.eat(b'[')?;
                let mut items = Vec::new();
                if self.peek() == Some(b']') {
                    self.i += 1;
                    return Ok(Value::Strs(items));
                }
                loop {
                    items.push(self.string()?);
                    match self.peek() {
                        Some(b',') => self.i += 1,
                        Some(b']') => {
                            self.i += 1;
                            return Ok(Value::Strs(items));
                        }
                        _ => return Err("expected ',' or ']' in array".into()),
                    }
                }
            }
            Some(_) => self.scalar().map(|()| Value::Other),
            None => Err("unexpected end".into()),
        }
    }
}

/// Parses a flat JSON object into its fields, in order.
pub(crate) fn parse_object(s: &[u8]) -> Result<Vec<(String, Value)>, String> {
    let mut p = Parser { s, i: 0 };
    p.eat(b'{')?;
    let mut fields = Vec::new();
    if p.peek() == Some(b'}') {
        p.i += 1;
    } else {
        loop {
            let k = p.string()?;
            p.eat(b':')?;
            let v = p.value()?;
            fields.push((k, v));
            match p.peek() {
                Some(b',') => p.i += 1,
                Some(b'}') => {
                    p.i += 1;
                    break;
                }
                _ => return Err("expected ',' or '}' in object".into()),
            }
        }
    }
    if p.peek().is_some() {
        return Err("trailing bytes after the object".into());
    }
    Ok(fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trigger_bodies() {
        let f = parse_object(
            br#"{"name":"e","channels":["a","b"],"data":"x\"y\u0041","n":1.5,"b":true}"#,
        );
        assert_eq!(
            f,
            Ok(vec![
                ("name".into(), Value::Str("e".into())),
                ("channels".into(), Value::Strs(vec!["a".into(), "b".into()])),
                ("data".into(), Value::Str("x\"yA".into())),
                ("n".into(), Value::Other),
                ("b".into(), Value::Other),
            ])
        );
        for bad in [
            &b"{"[..],
            b"{\"a\":}",
            b"[1]",
            b"{\"a\":{}}",
            b"{\"a\":\"b\"} x",
            b"{\"a\":\"\\u12\"}",
            b"",
        ] {
            assert!(
                parse_object(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
