package dev.rnn4j;

import com.sun.source.doctree.DocCommentTree;
import com.sun.source.doctree.DocTree;
import com.sun.source.doctree.ParamTree;
import com.sun.source.doctree.ReferenceTree;
import com.sun.source.tree.ClassTree;
import com.sun.source.tree.CompilationUnitTree;
import com.sun.source.tree.MethodTree;
import com.sun.source.tree.ModifiersTree;
import com.sun.source.tree.Tree;
import com.sun.source.tree.VariableTree;
import com.sun.source.util.DocTreeScanner;
import com.sun.source.util.DocTrees;
import com.sun.source.util.JavacTask;
import com.sun.source.util.TreePath;

import org.junit.jupiter.api.Test;

import javax.lang.model.element.Modifier;
import javax.tools.JavaCompiler;
import javax.tools.StandardJavaFileManager;
import javax.tools.ToolProvider;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every public type and member of the user-facing packages has a Javadoc comment (javadoc's
 * doclint, which the build runs with "all,-missing", checks the comments' syntax and links;
 * this checks their presence, without requiring a tag for every parameter), every record
 * component has an {@code @param}, every such package has a package-info.java, and no comment of
 * a public declaration links a type the package does not make public (javadoc leaves such a link
 * dangling).
 */
class JavadocCoverageTest {
    static final List<String> API_PACKAGES = List.of("dev/rnn4j", "dev/rnn4j/nn", "dev/rnn4j/io", "dev/rnn4j/train", "dev/rnn4j/serve");

    @Test
    void everyPublicTypeAndMemberIsDocumented() throws IOException {
        List<Path> files = new ArrayList<>();
        for (String pkg : API_PACKAGES) {
            Path dir = Path.of("java", pkg);
            assertTrue(Files.exists(dir.resolve("package-info.java")), "no package-info.java in " + dir);
            try (Stream<Path> s = Files.list(dir)) {
                s.filter(p -> p.toString().endsWith(".java")).sorted().forEach(files::add);
            }
        }
        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        List<String> missing = new ArrayList<>();
        try (StandardJavaFileManager fm = javac.getStandardFileManager(null, null, null)) {
            JavacTask task = (JavacTask) javac.getTask(null, fm, null, List.of("--release", "25", "-proc:none"), null,
                    fm.getJavaFileObjectsFromPaths(files));
            DocTrees docs = DocTrees.instance(task);
            List<CompilationUnitTree> units = new ArrayList<>();
            task.parse().forEach(units::add);
            for (CompilationUnitTree unit : units)
                for (Tree t : unit.getTypeDecls())
                    if (t instanceof ClassTree c && !c.getModifiers().getFlags().contains(Modifier.PUBLIC))
                        hidden.add(unit.getPackageName() + "." + c.getSimpleName());
            for (CompilationUnitTree unit : units) {
                String file = Path.of(unit.getSourceFile().toUri()).getFileName().toString();
                if (file.equals("package-info.java")) {
                    if (docs.getDocCommentTree(new TreePath(new TreePath(unit), unit.getPackage())) == null) missing.add(unit.getPackageName() + " " + file + ": package comment");
                    continue;
                }
                for (Tree t : unit.getTypeDecls())
                    if (t instanceof ClassTree c) checkType(docs, new TreePath(new TreePath(unit), c), c, unit.getPackageName() + ": " + file, missing);
            }
        }
        assertTrue(missing.isEmpty(), missing.size() + " public declarations without a Javadoc comment or linking a non-public type:\n" + String.join("\n", missing));
    }

    /** Package-qualified names of the API packages' non-public top-level types. */
    private final Set<String> hidden = new HashSet<>();

    /** Reports each {@code {@link}}, {@code {@linkplain}} or {@code @see} of {@code doc} that names a non-public type of the package. */
    private void checkLinks(DocCommentTree doc, String pkg, String name, List<String> missing) {
        if (doc == null) return;
        new DocTreeScanner<Void, Void>() {
            @Override
            public Void visitReference(ReferenceTree r, Void unused) {
                String sig = r.getSignature();
                String type = sig.contains("#") ? sig.substring(0, sig.indexOf('#')) : sig;
                if (!type.isEmpty() && (hidden.contains(pkg + "." + type) || hidden.contains(type)))
                    missing.add(name + ": links the non-public " + type);
                return null;
            }
        }.scan(doc, null);
    }

    private static boolean exported(ModifiersTree m, boolean inInterface) {
        Set<Modifier> f = m.getFlags();
        return f.contains(Modifier.PUBLIC) || f.contains(Modifier.PROTECTED) || (inInterface && !f.contains(Modifier.PRIVATE));
    }

    private static boolean overrides(ModifiersTree m) {
        return m.getAnnotations().stream().anyMatch(a -> a.getAnnotationType().toString().equals("Override"));
    }

    /** Whether a record's constructor is its canonical one (compact or spelled out): the record's @params document it. */
    private static boolean compact(ClassTree record, MethodTree ctor) {
        long components = record.getMembers().stream()
                .filter(m -> m instanceof VariableTree v && !v.getModifiers().getFlags().contains(Modifier.STATIC)).count();
        return ctor.getParameters().size() == components;
    }

    private void checkType(DocTrees docs, TreePath path, ClassTree c, String where, List<String> missing) {
        if (!c.getModifiers().getFlags().contains(Modifier.PUBLIC) && !c.getModifiers().getFlags().contains(Modifier.PROTECTED)) return;
        String pkg = where.substring(0, where.indexOf(": ")), file = where.substring(where.indexOf(": ") + 2);
        String name = file + ": " + c.getSimpleName();
        DocCommentTree typeDoc = docs.getDocCommentTree(path);
        if (typeDoc == null) missing.add(name);
        checkLinks(typeDoc, pkg, name, missing);
        boolean iface = c.getKind() == Tree.Kind.INTERFACE || c.getKind() == Tree.Kind.ANNOTATION_TYPE;
        if (c.getKind() == Tree.Kind.RECORD) {
            Set<String> params = new HashSet<>();
            if (typeDoc != null)
                for (DocTree tag : typeDoc.getBlockTags())
                    if (tag instanceof ParamTree p && !p.isTypeParameter()) params.add(p.getName().getName().toString());
            for (Tree m : c.getMembers())
                if (m instanceof VariableTree v && !v.getModifiers().getFlags().contains(Modifier.STATIC)
                        && !params.contains(v.getName().toString()))
                    missing.add(name + " record component " + v.getName() + " (@param)");
        }
        for (Tree m : c.getMembers()) {
            TreePath mp = new TreePath(path, m);
            switch (m) {
                case ClassTree nested -> checkType(docs, mp, nested, where, missing);
                case MethodTree mt -> {
                    if (!exported(mt.getModifiers(), iface) || overrides(mt.getModifiers())) continue;
                    // The compact or implicit constructor of a record is documented by the record's comment.
                    if (c.getKind() == Tree.Kind.RECORD && mt.getName().contentEquals("<init>") && compact(c, mt)) continue;
                    String member = name + "." + (mt.getName().contentEquals("<init>") ? c.getSimpleName() : mt.getName()) + "(" + mt.getParameters().size() + " args)";
                    if (docs.getDocCommentTree(mp) == null) missing.add(member);
                    checkLinks(docs.getDocCommentTree(mp), pkg, member, missing);
                }
                case VariableTree v -> {
                    boolean enumConstant = c.getKind() == Tree.Kind.ENUM && v.getModifiers().getFlags().isEmpty()
                            && v.getType() == null;
                    if (c.getKind() == Tree.Kind.RECORD && !v.getModifiers().getFlags().contains(Modifier.STATIC)) continue;
                    if ((enumConstant || exported(v.getModifiers(), iface)) && docs.getDocCommentTree(mp) == null)
                        missing.add(name + "." + v.getName());
                    if (enumConstant || exported(v.getModifiers(), iface)) checkLinks(docs.getDocCommentTree(mp), pkg, name + "." + v.getName(), missing);
                }
                default -> { }
            }
        }
    }
}
