package workflowcheck

import (
	"go/ast"
	"go/token"
	"go/types"
)

// findMutable records the package variables that the package assigns
// outside init: directly, through a field, element or pointer, by taking
// their address or by calling a pointer method on them.
func (c *pkgCheck) findMutable() {
	info := c.pass.TypesInfo
	for _, f := range c.pass.Files {
		for _, d := range f.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok && fd.Recv == nil && fd.Name.Name == "init" {
				continue
			}
			ast.Inspect(d, func(n ast.Node) bool {
				switch n := n.(type) {
				case *ast.AssignStmt:
					if n.Tok != token.DEFINE {
						for _, lhs := range n.Lhs {
							c.assigned(lhs, n.Pos())
						}
					}
				case *ast.IncDecStmt:
					c.assigned(n.X, n.Pos())
				case *ast.RangeStmt:
					if n.Tok == token.ASSIGN {
						c.assigned(n.Key, n.Pos())
						c.assigned(n.Value, n.Pos())
					}
				case *ast.UnaryExpr:
					if n.Op == token.AND {
						c.assigned(n.X, n.Pos())
					}
				case *ast.CallExpr:
					// v.M() with a pointer method M takes v's address.
					sel, ok := ast.Unparen(n.Fun).(*ast.SelectorExpr)
					if !ok {
						break
					}
					s := info.Selections[sel]
					if s == nil || s.Kind() != types.MethodVal {
						break
					}
					_, ptrRecv := s.Obj().(*types.Func).Signature().Recv().Type().(*types.Pointer)
					_, ptrOperand := s.Recv().Underlying().(*types.Pointer)
					if ptrRecv && !ptrOperand {
						c.assigned(sel.X, n.Pos())
					}
				}
				return true
			})
		}
	}
}

// assigned marks the package variable that e is rooted at (v, v.f, v[i],
// *v) as mutable.
func (c *pkgCheck) assigned(e ast.Expr, at token.Pos) {
	for e != nil {
		switch x := e.(type) {
		case *ast.ParenExpr:
			e = x.X
		case *ast.SelectorExpr:
			if c.pass.TypesInfo.Selections[x] == nil {
				return // a qualified name: another package's variable
			}
			e = x.X
		case *ast.IndexExpr:
			e = x.X
		case *ast.StarExpr:
			e = x.X
		case *ast.Ident:
			v, ok := c.pass.TypesInfo.Uses[x].(*types.Var)
			if ok && v.Pkg() == c.pass.Pkg && v.Parent() == v.Pkg().Scope() {
				if _, seen := c.mutable[v]; !seen {
					c.mutable[v] = at
				}
			}
			return
		default:
			return
		}
	}
}
