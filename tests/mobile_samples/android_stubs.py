"""Java stubs of the Android API 36 and AndroidX classes, made from the type stubs PyPI's
`chaquopy-stubs-android*` packages install (chaquopy-stubgen's `.pyi` files, which keep each Java
method's parameter types), so that kotlinc can compile the Android app module here against the real
API's names and signatures. No library turns these `.pyi` files back into Java, hence this module.

What the `.pyi` files do not keep, and how it is filled in (a wrong guess fails the compilation of a
correct app, it cannot make a wrong app compile):
- generics: every type is raw (`ValueCallback`, `Map`); type variables are `Object`;
- interface or class: a type with no constructor, no instance field and only interfaces above it is an
  interface; an interface with one method keeps it abstract (Kotlin lambdas convert to it), the other
  interfaces' methods get default bodies;
- integer return types (`int` for every integer): `int`, with javac's "cannot override" errors telling
  the stubs where a JDK method returns another type (then the class is made abstract, see below);
- a class javac finds unimplementable from the stubs alone (an abstract JDK method it does not declare,
  such as `CharSequence`'s or `Comparable`'s, a clash the raw types make) is made abstract, or left out
  when that does not suffice: the app can then not instantiate it (about 100 of 3,160 top-level classes,
  `SpannableString` among them), which fails its compilation rather than passing it;
- a method's own type parameters (`SavedStateHandle.get<T>`): gone, the method takes and returns
  `Object`, so such a call is written without type arguments.

Types the stubs name but do not contain, and that the JDK does not have either, become `Object`.
"""

from __future__ import annotations

import ast
import base64
import hashlib
import keyword
import re
import subprocess
import sys
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

STUB_DISTRIBUTIONS = (
    "chaquopy-stubs-android",
    "chaquopy-stubs-androidx-activity-activity",
    "chaquopy-stubs-androidx-core-core",
    "chaquopy-stubs-androidx-lifecycle-lifecycle-common",
    "chaquopy-stubs-androidx-lifecycle-lifecycle-runtime",
    "chaquopy-stubs-androidx-lifecycle-lifecycle-viewmodel",
    "chaquopy-stubs-androidx-lifecycle-lifecycle-viewmodel-savedstate",
    "chaquopy-stubs-androidx-savedstate-savedstate",
)
# The stubs' own copies of JDK packages are left out: javac has the real ones.
GENERATED_ROOTS = ("android", "androidx", "dalvik")
PRIMITIVES = {
    "jint": "int",
    "jlong": "long",
    "jfloat": "float",
    "jdouble": "double",
    "jboolean": "boolean",
    "jchar": "char",
    "jbyte": "byte",
    "jshort": "short",
}
BUILTINS = {"str": "String", "int": "int", "bool": "boolean", "float": "double"}
OBJECT_METHODS = frozenset({"equals", "hashCode", "toString", "finalize", "clone", "getClass"})
JAVA_KEYWORDS = frozenset(
    {
        "abstract",
        "assert",
        "boolean",
        "break",
        "byte",
        "case",
        "catch",
        "char",
        "class",
        "const",
        "continue",
        "default",
        "do",
        "double",
        "else",
        "enum",
        "extends",
        "final",
        "finally",
        "float",
        "for",
        "goto",
        "if",
        "implements",
        "import",
        "instanceof",
        "int",
        "interface",
        "long",
        "native",
        "new",
        "package",
        "private",
        "protected",
        "public",
        "return",
        "short",
        "static",
        "strictfp",
        "super",
        "switch",
        "synchronized",
        "this",
        "throw",
        "throws",
        "transient",
        "try",
        "void",
        "volatile",
        "while",
        "true",
        "false",
        "null",
    }
)


def versions() -> list[str]:
    """The installed stub distributions and versions (a cache key)."""
    return [f"{name}=={metadata.version(name)}" for name in STUB_DISTRIBUTIONS]


def stub_modules(wheels: Path) -> Iterator[tuple[str, str]]:
    """(Java package, .pyi text) for every stub module of the generated roots, per distribution.

    Several AndroidX distributions install the same file (`androidx-stubs/lifecycle/__init__.pyi`:
    lifecycle-common, -runtime, -viewmodel, -viewmodel-savedstate), so on disk only the last one
    installed survives. A module whose installed file is not the distribution's own (its hash differs
    from the RECORD) is read from the distribution's wheel, which `pip download` fetches into `wheels`.
    """
    for name in STUB_DISTRIBUTIONS:
        for entry in metadata.files(name) or []:
            top = entry.parts[0]
            if not top.endswith("-stubs") or top.removesuffix("-stubs") not in GENERATED_ROOTS:
                continue
            if entry.name != "__init__.pyi":
                continue
            parts = [top.removesuffix("-stubs"), *entry.parts[1:-1]]
            package = ".".join(_unescape(part) for part in parts)
            data = Path(str(entry.locate())).read_bytes()
            if entry.hash is not None and _record_hash(data) != entry.hash.value:
                data = _from_wheel(name, str(entry), wheels)
            yield package, data.decode("utf-8")


def _record_hash(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def _from_wheel(distribution: str, member: str, wheels: Path) -> bytes:
    version = metadata.version(distribution)
    prefix = distribution.replace("-", "_") + "-" + version + "-"
    found = [wheel for wheel in wheels.glob("*.whl") if wheel.name.startswith(prefix)]
    if not found:
        wheels.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--no-deps",
                "--only-binary=:all:",
                "--dest",
                str(wheels),
                f"{distribution}=={version}",
            ],
            check=True,
            capture_output=True,
        )
        found = [wheel for wheel in wheels.glob("*.whl") if wheel.name.startswith(prefix)]
    with zipfile.ZipFile(found[0]) as wheel:
        return wheel.read(member)


def _unescape(name: str) -> str:
    """chaquopy-stubgen appends `_` to Java names that are Python keywords (`android.print_`)."""
    stripped = name.removesuffix("_")
    return stripped if name.endswith("_") and keyword.iskeyword(stripped) else name


@dataclass
class Method:
    name: str
    params: list[ast.expr | None]
    returns: ast.expr | None
    static: bool


@dataclass
class JavaClass:
    package: str
    outer: list[str]
    name: str
    bases: list[ast.expr]
    module: str
    constructors: list[list[ast.expr | None]] = field(default_factory=list)
    methods: list[Method] = field(default_factory=list)
    static_fields: list[tuple[str, ast.expr | None]] = field(default_factory=list)
    fields: list[tuple[str, ast.expr | None]] = field(default_factory=list)
    nested: list[JavaClass] = field(default_factory=list)
    interface: bool = False
    annotation: bool = False
    abstract: bool = False
    superclass: str | None = None
    interfaces: list[str] = field(default_factory=list)

    @property
    def qualified(self) -> str:
        return ".".join([self.package, *self.outer, self.name])

    @property
    def top(self) -> str:
        return ".".join([self.package, self.outer[0] if self.outer else self.name])


def _read_class(node: ast.ClassDef, package: str, outer: list[str]) -> JavaClass:
    cls = JavaClass(package, outer, _unescape(node.name), list(node.bases), package)
    for item in node.body:
        if isinstance(item, ast.ClassDef):
            cls.nested.append(_read_class(item, package, [*outer, cls.name]))
        elif isinstance(item, ast.FunctionDef):
            decorators = {ast.unparse(d) for d in item.decorator_list}
            args = item.args.posonlyargs + item.args.args
            static = "staticmethod" in decorators
            params = [a.annotation for a in (args if static else args[1:])]
            if item.name == "__init__":
                cls.constructors.append(params)
            elif not item.name.startswith("__"):
                cls.methods.append(Method(_unescape(item.name), params, item.returns, static))
        elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
            annotation = item.annotation
            text = ast.unparse(annotation)
            if text.startswith("typing.ClassVar["):
                inner = annotation.slice if isinstance(annotation, ast.Subscript) else None
                cls.static_fields.append((_unescape(item.target.id), inner))
            else:
                cls.fields.append((_unescape(item.target.id), annotation))
    return cls


def read_stubs(wheels: Path) -> dict[str, JavaClass]:
    """Every class of the generated roots, by qualified Java name (nested ones included)."""
    classes: dict[str, JavaClass] = {}

    def add(cls: JavaClass) -> None:
        classes[cls.qualified] = cls
        for nested in cls.nested:
            add(nested)

    for package, text in stub_modules(wheels):
        tree = ast.parse(text)
        for node in tree.body:
            if isinstance(node, ast.ClassDef):
                add(_read_class(node, package, []))
    return classes


def jdk_classes() -> frozenset[str]:
    """The JDK's public class names (from `jimage list` of the running Java's modules)."""
    java_home = Path(
        subprocess.run(
            ["java", "-XshowSettings:properties", "-version"], capture_output=True, text=True, check=True
        )
        .stderr.split("java.home = ", 1)[1]
        .splitlines()[0]
    )
    listing = subprocess.run(
        [str(java_home / "bin" / "jimage"), "list", str(java_home / "lib" / "modules")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    names = set()
    for raw in listing.splitlines():
        line = raw.strip()
        if line.endswith(".class") and "$" not in line and not line.endswith("module-info.class"):
            names.add(line.removesuffix(".class").replace("/", "."))
    return frozenset(names)


class Generator:
    """Writes the Java sources of `classes`, resolving the names their signatures use."""

    def __init__(self, classes: dict[str, JavaClass], jdk: frozenset[str]) -> None:
        self.classes = classes
        self.jdk = jdk
        self.left_out: set[str] = set()
        for cls in classes.values():
            self._classify(cls)
        for cls in classes.values():
            self._link(cls)

    # -- names and types

    def resolve(self, dotted: str, context: JavaClass) -> str | None:
        """The Java class a stub's name means, or None (not in the stubs nor in the JDK)."""
        parts = [_unescape(part) for part in dotted.split(".")]
        name = ".".join(parts)
        if "." not in name or parts[0] not in ("android", "androidx", "dalvik", "java", "javax", "org"):
            # A name of the stub's own module, maybe nested (`ViewGroup.LayoutParams`).
            local = f"{context.module}.{name}"
            if local in self.classes:
                return None if self.classes[local].top in self.left_out else local
        if name in self.classes:
            return None if self.classes[name].top in self.left_out else name
        # `java.util.Map.Entry`: a nested JDK class is written with its outer class.
        for split in range(len(parts), 0, -1):
            outer = ".".join(parts[:split])
            if outer in self.jdk:
                return name if split == len(parts) else f"{outer}.{'.'.join(parts[split:])}"
        return None

    def _union(self, expr: ast.expr) -> list[ast.expr]:
        if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.BitOr):
            return [*self._union(expr.left), *self._union(expr.right)]
        return [expr]

    def java_type(self, expr: ast.expr | None, context: JavaClass, *, returning: bool = False) -> str:
        if expr is None:
            return "Object"
        members = [m for m in self._union(expr) if not (isinstance(m, ast.Constant) and m.value is None)]
        if not members:
            return "void" if returning else "Object"
        texts = [ast.unparse(m) for m in members]
        for text in texts:
            if text.startswith("java.j") and text.removeprefix("java.") in PRIMITIVES:
                return PRIMITIVES[text.removeprefix("java.")]
        if len(members) > 1 and "java.lang.Object" in texts:
            return "Object"
        for member in members:
            mapped = self._single(member, context)
            if mapped is not None:
                return mapped
        return "Object"

    def _single(self, expr: ast.expr, context: JavaClass) -> str | None:
        text = ast.unparse(expr)
        if isinstance(expr, ast.Name) and expr.id in BUILTINS:
            return BUILTINS[expr.id]
        if text.startswith("java.chaquopy.JavaArrayJ"):
            return (
                PRIMITIVES.get("j" + text.removeprefix("java.chaquopy.JavaArrayJ").lower(), "Object") + "[]"
            )
        if isinstance(expr, ast.Subscript):
            base = ast.unparse(expr.value)
            if base == "java.chaquopy.JavaArray":
                element = self.java_type(expr.slice, context)
                return f"{element}[]"
            if base.startswith("typing."):
                return "Object"
            return self._single(expr.value, context)
        if isinstance(expr, (ast.Name, ast.Attribute)):
            if text.startswith("typing.") or (isinstance(expr, ast.Name) and expr.id.startswith("_")):
                return None
            resolved = self.resolve(text, context)
            return resolved if resolved is not None else "Object"
        return None

    # -- shape

    def _classify(self, cls: JavaClass) -> None:
        kinds = {ast.unparse(base) for base in cls.bases}
        if any(kind.startswith("java.lang.Enum") for kind in kinds):
            cls.interface = False
            return
        if "java.lang.annotation.Annotation" in kinds:
            cls.annotation = cls.interface = True
            return
        # Interfaces do not declare Object's methods; a final class without public constructors does.
        objects = {method.name for method in cls.methods} & OBJECT_METHODS
        cls.interface = not cls.constructors and not cls.fields and not objects

    def _link(self, cls: JavaClass) -> None:
        for base in cls.bases:
            text = ast.unparse(base.value if isinstance(base, ast.Subscript) else base)
            if text.startswith("typing.") or text in ("java.lang.Object", "java.lang.Enum"):
                continue
            resolved = self.resolve(text, cls)
            if resolved is None or resolved == cls.qualified:
                continue
            target = self.classes.get(resolved)
            is_interface = target.interface if target is not None else self._jdk_interface(resolved)
            if is_interface:
                cls.interfaces.append(resolved)
            elif not cls.interface and cls.superclass is None:
                cls.superclass = resolved
        if cls.interface and cls.superclass is not None:
            cls.superclass = None

    @staticmethod
    def _jdk_interface(name: str) -> bool:
        # The JDK types the Android stubs extend: interfaces by naming convention of java.util and the
        # marker interfaces; anything else is treated as a class.
        simple = name.rsplit(".", 1)[-1]
        return simple in {
            "Serializable",
            "Cloneable",
            "Comparable",
            "Runnable",
            "Iterable",
            "AutoCloseable",
            "Closeable",
            "CharSequence",
            "Collection",
            "List",
            "Map",
            "Set",
            "Queue",
            "Deque",
            "Iterator",
            "Executor",
            "Callable",
            "Future",
            "Annotation",
            "EventListener",
            "Spliterator",
            "Appendable",
            "Flushable",
            "Readable",
            "Comparator",
            "Entry",
            "Supplier",
            "Consumer",
            "Function",
            "Predicate",
            "Key",
            "PrivateKey",
            "PublicKey",
            "Principal",
            "Certificate",
            "ThreadFactory",
            "ScheduledFuture",
            "Delayed",
            "Condition",
            "Lock",
            "ReadWriteLock",
            "Channel",
            "ByteChannel",
            "SortedMap",
            "NavigableMap",
            "SortedSet",
            "NavigableSet",
            "RandomAccess",
            "ListIterator",
            "Enumeration",
            "ParameterizedType",
            "Type",
            "AnnotatedElement",
            "GenericDeclaration",
            "Member",
            "InvocationHandler",
            "HostnameVerifier",
            "X509TrustManager",
            "TrustManager",
            "KeyManager",
            "BiFunction",
            "BiConsumer",
            "IntConsumer",
            "ReadableByteChannel",
            "WritableByteChannel",
            "SeekableByteChannel",
            "InterruptibleChannel",
            "DataInput",
            "DataOutput",
            "ObjectInput",
            "ObjectOutput",
            "Externalizable",
            "FileFilter",
            "FilenameFilter",
            "ContentHandlerFactory",
            "CookieStore",
            "CookiePolicy",
            "SocketOptions",
            "Checksum",
            "RowSet",
            "ResultSet",
            "Statement",
            "Connection",
            "Driver",
            "Wrapper",
            "Source",
            "Result",
            "ErrorHandler",
            "ContentHandler",
            "EntityResolver",
            "DTDHandler",
            "Node",
            "Element",
            "Document",
            "XmlPullParser",
            "XmlSerializer",
            "Destroyable",
            "Refreshable",
            "CertPathParameters",
            "AlgorithmParameterSpec",
            "KeySpec",
            "SecretKey",
            "Interpolator",
            "TimeInterpolator",
            "Path",
            "Watchable",
            "PathMatcher",
        }

    # -- output

    def source(self, top: JavaClass, abstract: set[str]) -> str:
        return f"package {top.package};\n\n" + self._declaration(top, abstract, "")

    def _declaration(self, cls: JavaClass, abstract: set[str], indent: str) -> str:
        nested = bool(cls.outer)
        lines: list[str] = []
        if cls.annotation:
            header = f"{indent}public @interface {cls.name}"
        elif cls.interface:
            header = f"{indent}public interface {cls.name}"
            if cls.interfaces:
                header += " extends " + ", ".join(cls.interfaces)
        else:
            modifiers = (
                "public " + ("static " if nested else "") + ("abstract " if cls.top in abstract else "")
            )
            header = f"{indent}{modifiers}class {cls.name}"
            if cls.superclass:
                header += f" extends {cls.superclass}"
            if cls.interfaces:
                header += " implements " + ", ".join(cls.interfaces)
        lines.append(header + " {")
        inner = indent + "    "
        for name, annotation in cls.static_fields:
            if name in JAVA_KEYWORDS:
                continue
            kind = self.java_type(annotation, cls)
            value = _default(kind)
            final = "final " if cls.interface else ""
            lines.append(f"{inner}public static {final}{kind} {name} = {value};")
        if not cls.interface:
            for name, annotation in cls.fields:
                if name not in JAVA_KEYWORDS:
                    lines.append(f"{inner}public {self.java_type(annotation, cls)} {name};")
            signatures: set[str] = set()
            for params in [*cls.constructors, []]:
                types = [self.java_type(p, cls) for p in params]
                if ",".join(types) in signatures:
                    continue
                signatures.add(",".join(types))
                access = "public" if params or [] in cls.constructors else "protected"
                lines.append(f"{inner}{access} {cls.name}({_params(types)}) {{ throw null; }}")
        single = cls.interface and len([m for m in cls.methods if not m.static]) == 1
        seen: set[str] = set()
        for method in cls.methods:
            if method.name in JAVA_KEYWORDS or (cls.interface and method.name in OBJECT_METHODS):
                continue
            types = [self.java_type(p, cls) for p in method.params]
            key = method.name + "(" + ",".join(types) + ")"
            if key in seen:
                continue
            seen.add(key)
            returns = self.java_type(method.returns, cls, returning=True)
            if cls.annotation:
                if not method.static and not types:
                    lines.append(f"{inner}{returns} {method.name}();")
            elif method.static:
                lines.append(
                    f"{inner}public static {returns} {method.name}({_params(types)}) {{ throw null; }}"
                )
            elif cls.interface and single:
                lines.append(f"{inner}{returns} {method.name}({_params(types)});")
            elif cls.interface:
                lines.append(f"{inner}default {returns} {method.name}({_params(types)}) {{ throw null; }}")
            else:
                lines.append(f"{inner}public {returns} {method.name}({_params(types)}) {{ throw null; }}")
        for child in cls.nested:
            lines.append(self._declaration(child, abstract, inner))
        lines.append(indent + "}")
        return "\n".join(lines) + "\n"


def _params(types: list[str]) -> str:
    return ", ".join(f"{kind} p{index}" for index, kind in enumerate(types))


def _default(kind: str) -> str:
    if kind == "boolean":
        return "false"
    if kind in ("int", "long", "float", "double", "short", "byte"):
        return f"({kind}) 0"
    if kind == "char":
        return "'\\0'"
    return "null"


ERROR = re.compile(r"^(?P<file>[^\s:]+\.java):\d+: error: (?P<message>.*)$", re.MULTILINE)


def build_stub_jar(out: Path, *, max_passes: int = 6) -> Path:
    """Writes the stubs' Java sources under `out/src`, compiles them with javac into `out/classes`,
    and returns the classes directory. Classes javac cannot compile as written are made abstract,
    then left out (see the module docstring)."""
    classes = read_stubs(out / "wheels")
    generator = Generator(classes, jdk_classes())
    tops = [cls for cls in classes.values() if not cls.outer]
    abstract: set[str] = set()
    left_out: set[str] = set()
    src = out / "src"
    for attempt in range(max_passes):
        generator.left_out = left_out
        files = _write(src, generator, [t for t in tops if t.qualified not in left_out], abstract)
        completed = subprocess.run(
            [
                "javac",
                "-nowarn",
                "-Xmaxerrs",
                "100000",
                "-encoding",
                "UTF-8",
                "-d",
                str(out / "classes"),
                "@" + str(_argfile(out, files)),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if completed.returncode == 0:
            return out / "classes"
        failing = {_class_of(Path(m["file"]), src) for m in ERROR.finditer(completed.stderr)}
        if not failing:
            raise RuntimeError(completed.stderr[-4000:])
        if attempt >= max_passes - 2:
            left_out |= failing
        else:
            # First make them abstract (an abstract JDK method they do not declare); a class that
            # fails again after that is left out.
            repeat = failing & abstract
            left_out |= repeat
            abstract |= failing
    raise RuntimeError(f"the stubs did not compile after {max_passes} passes")


def _class_of(path: Path, src: Path) -> str:
    return ".".join(path.resolve().relative_to(src.resolve()).with_suffix("").parts)


def _write(src: Path, generator: Generator, tops: Iterable[JavaClass], abstract: set[str]) -> list[Path]:
    files = []
    for top in tops:
        path = src.joinpath(*top.package.split("."), f"{top.name}.java")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(generator.source(top, abstract), encoding="utf-8")
        files.append(path)
    return files


def _argfile(out: Path, files: list[Path]) -> Path:
    argfile = out / "sources.txt"
    argfile.write_text("\n".join(str(f) for f in files), encoding="utf-8")
    return argfile
