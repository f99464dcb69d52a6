package torchfile

import (
	"encoding/binary"
	"fmt"
	"math"
	"strings"
)

// The pickle machine below runs only the opcodes torch.save emits for a
// state_dict (protocols 2 to 5) and calls only the handful of globals such a
// file names. It never imports or executes anything: a global is a name
// looked up in allowedGlobals, and REDUCE dispatches on that name to a Go
// function. Everything else is refused with an error naming the opcode or
// the global and its offset in data.pkl.

// Pickle opcodes (Lib/pickle.py).
const (
	opMark        = '('
	opStop        = '.'
	opPop         = '0'
	opPopMark     = '1'
	opBinFloat    = 'G'
	opBinInt      = 'J'
	opBinInt1     = 'K'
	opBinInt2     = 'M'
	opNone        = 'N'
	opBinPersID   = 'Q'
	opReduce      = 'R'
	opBinUnicode  = 'X'
	opAppend      = 'a'
	opBuild       = 'b'
	opGlobal      = 'c'
	opDict        = 'd'
	opEmptyDict   = '}'
	opAppends     = 'e'
	opBinGet      = 'h'
	opLongBinGet  = 'j'
	opList        = 'l'
	opEmptyList   = ']'
	opBinPut      = 'q'
	opLongBinPut  = 'r'
	opSetItem     = 's'
	opTuple       = 't'
	opEmptyTuple  = ')'
	opSetItems    = 'u'
	opProto       = 0x80
	opTuple1      = 0x85
	opTuple2      = 0x86
	opTuple3      = 0x87
	opNewTrue     = 0x88
	opNewFalse    = 0x89
	opLong1       = 0x8a
	opShortBinUni = 0x8c
	opBinUnicode8 = 0x8d
	opStackGlobal = 0x93
	opMemoize     = 0x94
	opFrame       = 0x95
)

// Python values the machine builds.
type (
	pyMark   struct{}
	pyTuple  []any
	pyList   struct{ items []any }
	pyGlobal struct{ module, name string }
	// pyDict is a dict or an OrderedDict: insertion order is kept. Keys are
	// strings, ints or bools (the only hashable values a state_dict needs).
	pyDict struct {
		keys []any
		m    map[any]any
	}
)

func newDict() *pyDict { return &pyDict{} }

func (d *pyDict) set(k, v any) error {
	switch k.(type) {
	case string, int64, bool:
	default:
		return fmt.Errorf("dict key of type %s", typeName(k))
	}
	if d.m == nil {
		d.m = map[any]any{}
	}
	if _, ok := d.m[k]; !ok {
		d.keys = append(d.keys, k)
	}
	d.m[k] = v
	return nil
}

// allowedGlobals are the only names GLOBAL and STACK_GLOBAL accept.
var allowedGlobals = map[string]bool{
	"collections.OrderedDict":         true,
	"torch._utils._rebuild_tensor_v2": true,
	"torch._utils._rebuild_parameter": true,
	"torch.DoubleStorage":             true,
	"torch.FloatStorage":              true,
	"torch.HalfStorage":               true,
	"torch.BFloat16Storage":           true,
	"torch.LongStorage":               true,
	"torch.IntStorage":                true,
	"torch.ShortStorage":              true,
	"torch.CharStorage":               true,
	"torch.ByteStorage":               true,
	"torch.BoolStorage":               true,
}

// storageDTypes maps a storage class to the safetensors name of its dtype.
var storageDTypes = map[string]string{
	"DoubleStorage": "F64", "FloatStorage": "F32", "HalfStorage": "F16", "BFloat16Storage": "BF16",
	"LongStorage": "I64", "IntStorage": "I32", "ShortStorage": "I16", "CharStorage": "I8",
	"ByteStorage": "U8", "BoolStorage": "BOOL",
}

func typeName(v any) string {
	switch v := v.(type) {
	case nil:
		return "None"
	case pyMark:
		return "mark"
	case pyTuple:
		return "tuple"
	case *pyList:
		return "list"
	case *pyDict:
		return "dict"
	case pyGlobal:
		return v.module + "." + v.name
	case string:
		return "str"
	case int64:
		return "int"
	case float64:
		return "float"
	case bool:
		return "bool"
	case *storage:
		return "storage"
	case *tensor:
		return "tensor"
	}
	return fmt.Sprintf("%T", v)
}

// machine is the pickle virtual machine's state.
type machine struct {
	data   []byte
	pos    int
	op     int // offset of the current opcode, for errors
	stack  []any
	pushes int   // values pushed so far, against maxPushes
	marks  []int // stack heights at each MARK
	memo   map[uint32]any
	// persistent resolves a BINPERSID id to a storage.
	persistent func(pid pyTuple) (*storage, error)
}

// maxMemo bounds the memo, and maxPushes the number of values the machine
// creates, so that memory stays bounded (a few hundred MB at worst) whatever
// the pickle. A state_dict needs about 25 values a tensor: 1<<22 allows some
// 160,000 tensors in one file.
const (
	maxMemo   = 1 << 22
	maxPushes = 1 << 22
)

func (m *machine) errorf(format string, args ...any) error {
	return fmt.Errorf("data.pkl offset %d: %s", m.op, fmt.Sprintf(format, args...))
}

func (m *machine) need(n uint64) ([]byte, error) {
	if n > uint64(len(m.data)-m.pos) {
		return nil, m.errorf("needs %d bytes but only %d remain (truncated pickle)", n, len(m.data)-m.pos)
	}
	b := m.data[m.pos : m.pos+int(n)]
	m.pos += int(n)
	return b, nil
}

func (m *machine) push(v any) { m.stack = append(m.stack, v); m.pushes++ }

func (m *machine) pop() (any, error) {
	base := 0
	if len(m.marks) > 0 {
		base = m.marks[len(m.marks)-1]
	}
	if len(m.stack) <= base {
		return nil, m.errorf("stack underflow")
	}
	v := m.stack[len(m.stack)-1]
	m.stack = m.stack[:len(m.stack)-1]
	return v, nil
}

func (m *machine) top() (any, error) {
	base := 0
	if len(m.marks) > 0 {
		base = m.marks[len(m.marks)-1]
	}
	if len(m.stack) <= base {
		return nil, m.errorf("stack underflow")
	}
	return m.stack[len(m.stack)-1], nil
}

// popMark returns the items pushed since the last MARK and removes them and
// the mark.
func (m *machine) popMark() ([]any, error) {
	if len(m.marks) == 0 {
		return nil, m.errorf("no MARK on the stack")
	}
	k := m.marks[len(m.marks)-1]
	m.marks = m.marks[:len(m.marks)-1]
	items := append([]any(nil), m.stack[k:]...)
	m.stack = m.stack[:k]
	return items, nil
}

func (m *machine) memoPut(idx uint32) error {
	v, err := m.top()
	if err != nil {
		return err
	}
	if len(m.memo) >= maxMemo {
		return m.errorf("memo has more than %d entries", maxMemo)
	}
	m.memo[idx] = v
	return nil
}

func (m *machine) memoGet(idx uint32) error {
	v, ok := m.memo[idx]
	if !ok {
		return m.errorf("memo key %d was never stored", idx)
	}
	m.push(v)
	return nil
}

func (m *machine) global(module, name string) error {
	full := module + "." + name
	if !allowedGlobals[full] {
		return m.errorf("refusing global %q: only the names torch.save writes for a state_dict are allowed (a hostile or unsupported pickle)", truncate(full))
	}
	m.push(pyGlobal{module, name})
	return nil
}

func truncate(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

// readLine reads a GLOBAL operand: bytes up to '\n'.
func (m *machine) readLine() (string, error) {
	i := strings.IndexByte(string(m.data[m.pos:min(len(m.data), m.pos+256)]), '\n')
	if i < 0 {
		return "", m.errorf("GLOBAL operand without a newline in 256 bytes")
	}
	s := string(m.data[m.pos : m.pos+i])
	m.pos += i + 1
	return s, nil
}

func (m *machine) setItems(d any, kv []any) error {
	dict, ok := d.(*pyDict)
	if !ok {
		return m.errorf("SETITEM(S) on a %s, want a dict", typeName(d))
	}
	if len(kv)%2 != 0 {
		return m.errorf("SETITEMS with an odd number of items (%d)", len(kv))
	}
	for i := 0; i < len(kv); i += 2 {
		if err := dict.set(kv[i], kv[i+1]); err != nil {
			return m.errorf("%v", err)
		}
	}
	return nil
}

// run executes the pickle and returns the value STOP leaves.
func (m *machine) run() (any, error) {
	m.memo = map[uint32]any{}
	for m.pos < len(m.data) {
		if m.pushes > maxPushes || len(m.marks) > maxPushes {
			return nil, m.errorf("more than %d values: not the pickle of a state_dict", maxPushes)
		}
		m.op = m.pos
		op := m.data[m.pos]
		m.pos++
		switch op {
		case opProto:
			b, err := m.need(1)
			if err != nil {
				return nil, err
			}
			if b[0] < 2 || b[0] > 5 {
				return nil, m.errorf("pickle protocol %d (want 2 to 5)", b[0])
			}
		case opFrame:
			if _, err := m.need(8); err != nil {
				return nil, err
			}
		case opStop:
			v, err := m.pop()
			if err != nil {
				return nil, err
			}
			if len(m.stack) != 0 || len(m.marks) != 0 {
				return nil, m.errorf("STOP with %d values left on the stack", len(m.stack))
			}
			return v, nil
		case opMark:
			m.marks = append(m.marks, len(m.stack))
		case opPop:
			if _, err := m.pop(); err != nil {
				return nil, err
			}
		case opPopMark:
			if _, err := m.popMark(); err != nil {
				return nil, err
			}
		case opNone:
			m.push(nil)
		case opNewTrue:
			m.push(true)
		case opNewFalse:
			m.push(false)
		case opBinInt:
			b, err := m.need(4)
			if err != nil {
				return nil, err
			}
			m.push(int64(int32(binary.LittleEndian.Uint32(b))))
		case opBinInt1:
			b, err := m.need(1)
			if err != nil {
				return nil, err
			}
			m.push(int64(b[0]))
		case opBinInt2:
			b, err := m.need(2)
			if err != nil {
				return nil, err
			}
			m.push(int64(binary.LittleEndian.Uint16(b)))
		case opLong1:
			n, err := m.need(1)
			if err != nil {
				return nil, err
			}
			if n[0] > 8 {
				return nil, m.errorf("LONG1 of %d bytes does not fit in 64 bits", n[0])
			}
			b, err := m.need(uint64(n[0]))
			if err != nil {
				return nil, err
			}
			var u uint64
			for i := len(b) - 1; i >= 0; i-- {
				u = u<<8 | uint64(b[i])
			}
			if len(b) > 0 && len(b) < 8 && b[len(b)-1]&0x80 != 0 {
				u |= ^uint64(0) << (8 * len(b)) // sign-extend
			}
			m.push(int64(u))
		case opBinFloat:
			b, err := m.need(8)
			if err != nil {
				return nil, err
			}
			m.push(math.Float64frombits(binary.BigEndian.Uint64(b)))
		case opShortBinUni, opBinUnicode, opBinUnicode8:
			var n uint64
			switch op {
			case opShortBinUni:
				b, err := m.need(1)
				if err != nil {
					return nil, err
				}
				n = uint64(b[0])
			case opBinUnicode:
				b, err := m.need(4)
				if err != nil {
					return nil, err
				}
				n = uint64(binary.LittleEndian.Uint32(b))
			default:
				b, err := m.need(8)
				if err != nil {
					return nil, err
				}
				n = binary.LittleEndian.Uint64(b)
			}
			s, err := m.need(n)
			if err != nil {
				return nil, err
			}
			m.push(string(s))
		case opEmptyTuple:
			m.push(pyTuple{})
		case opTuple:
			items, err := m.popMark()
			if err != nil {
				return nil, err
			}
			m.push(pyTuple(items))
		case opTuple1, opTuple2, opTuple3:
			n := int(op-opTuple1) + 1
			t := make(pyTuple, n)
			for i := n - 1; i >= 0; i-- {
				v, err := m.pop()
				if err != nil {
					return nil, err
				}
				t[i] = v
			}
			m.push(t)
		case opEmptyList:
			m.push(&pyList{})
		case opList:
			items, err := m.popMark()
			if err != nil {
				return nil, err
			}
			m.push(&pyList{items: items})
		case opAppend, opAppends:
			var items []any
			if op == opAppend {
				v, err := m.pop()
				if err != nil {
					return nil, err
				}
				items = []any{v}
			} else {
				var err error
				if items, err = m.popMark(); err != nil {
					return nil, err
				}
			}
			l, err := m.top()
			if err != nil {
				return nil, err
			}
			list, ok := l.(*pyList)
			if !ok {
				return nil, m.errorf("APPEND to a %s, want a list", typeName(l))
			}
			list.items = append(list.items, items...)
		case opEmptyDict:
			m.push(newDict())
		case opDict:
			items, err := m.popMark()
			if err != nil {
				return nil, err
			}
			d := newDict()
			if err := m.setItems(d, items); err != nil {
				return nil, err
			}
			m.push(d)
		case opSetItem:
			v, err := m.pop()
			if err != nil {
				return nil, err
			}
			k, err := m.pop()
			if err != nil {
				return nil, err
			}
			d, err := m.top()
			if err != nil {
				return nil, err
			}
			if err := m.setItems(d, []any{k, v}); err != nil {
				return nil, err
			}
		case opSetItems:
			items, err := m.popMark()
			if err != nil {
				return nil, err
			}
			d, err := m.top()
			if err != nil {
				return nil, err
			}
			if err := m.setItems(d, items); err != nil {
				return nil, err
			}
		case opBinPut:
			b, err := m.need(1)
			if err != nil {
				return nil, err
			}
			if err := m.memoPut(uint32(b[0])); err != nil {
				return nil, err
			}
		case opLongBinPut:
			b, err := m.need(4)
			if err != nil {
				return nil, err
			}
			if err := m.memoPut(binary.LittleEndian.Uint32(b)); err != nil {
				return nil, err
			}
		case opMemoize:
			if err := m.memoPut(uint32(len(m.memo))); err != nil {
				return nil, err
			}
		case opBinGet:
			b, err := m.need(1)
			if err != nil {
				return nil, err
			}
			if err := m.memoGet(uint32(b[0])); err != nil {
				return nil, err
			}
		case opLongBinGet:
			b, err := m.need(4)
			if err != nil {
				return nil, err
			}
			if err := m.memoGet(binary.LittleEndian.Uint32(b)); err != nil {
				return nil, err
			}
		case opGlobal:
			mod, err := m.readLine()
			if err != nil {
				return nil, err
			}
			name, err := m.readLine()
			if err != nil {
				return nil, err
			}
			if err := m.global(mod, name); err != nil {
				return nil, err
			}
		case opStackGlobal:
			name, err := m.pop()
			if err != nil {
				return nil, err
			}
			mod, err := m.pop()
			if err != nil {
				return nil, err
			}
			ms, ok1 := mod.(string)
			ns, ok2 := name.(string)
			if !ok1 || !ok2 {
				return nil, m.errorf("STACK_GLOBAL of a %s and a %s, want two strings", typeName(mod), typeName(name))
			}
			if err := m.global(ms, ns); err != nil {
				return nil, err
			}
		case opReduce:
			args, err := m.pop()
			if err != nil {
				return nil, err
			}
			fn, err := m.pop()
			if err != nil {
				return nil, err
			}
			v, err := m.reduce(fn, args)
			if err != nil {
				return nil, err
			}
			m.push(v)
		case opBuild:
			state, err := m.pop()
			if err != nil {
				return nil, err
			}
			obj, err := m.top()
			if err != nil {
				return nil, err
			}
			// The only BUILD torch.save writes for a state_dict sets the
			// OrderedDict's _metadata attribute (module versions), which is
			// not needed to read the tensors.
			if _, ok := obj.(*pyDict); !ok {
				return nil, m.errorf("BUILD on a %s, want an OrderedDict", typeName(obj))
			}
			if _, ok := state.(*pyDict); !ok {
				return nil, m.errorf("BUILD with a %s state, want a dict", typeName(state))
			}
		case opBinPersID:
			pid, err := m.pop()
			if err != nil {
				return nil, err
			}
			t, ok := pid.(pyTuple)
			if !ok {
				return nil, m.errorf("persistent id is a %s, want a tuple", typeName(pid))
			}
			if m.persistent == nil {
				return nil, m.errorf("persistent id outside a torch archive")
			}
			s, err := m.persistent(t)
			if err != nil {
				return nil, m.errorf("%v", err)
			}
			m.push(s)
		default:
			return nil, m.errorf("unsupported pickle opcode 0x%02x (torch.save of a state_dict does not write it)", op)
		}
	}
	return nil, fmt.Errorf("data.pkl ends without STOP (truncated pickle)")
}

// reduce applies one of the allowed callables to its arguments.
func (m *machine) reduce(fn, args any) (any, error) {
	g, ok := fn.(pyGlobal)
	if !ok {
		return nil, m.errorf("REDUCE calls a %s, want a global", typeName(fn))
	}
	a, ok := args.(pyTuple)
	if !ok {
		return nil, m.errorf("REDUCE arguments are a %s, want a tuple", typeName(args))
	}
	switch g.module + "." + g.name {
	case "collections.OrderedDict":
		if len(a) != 0 {
			return nil, m.errorf("OrderedDict called with %d arguments, want none", len(a))
		}
		return newDict(), nil
	case "torch._utils._rebuild_tensor_v2":
		// (storage, storage_offset, size, stride, requires_grad,
		// backward_hooks[, metadata])
		if len(a) != 6 && len(a) != 7 {
			return nil, m.errorf("_rebuild_tensor_v2 called with %d arguments, want 6 or 7", len(a))
		}
		st, ok := a[0].(*storage)
		if !ok {
			return nil, m.errorf("_rebuild_tensor_v2: storage is a %s", typeName(a[0]))
		}
		off, ok := a[1].(int64)
		if !ok {
			return nil, m.errorf("_rebuild_tensor_v2: storage offset is a %s, want an int", typeName(a[1]))
		}
		size, err := ints(a[2])
		if err != nil {
			return nil, m.errorf("_rebuild_tensor_v2: size: %v", err)
		}
		stride, err := ints(a[3])
		if err != nil {
			return nil, m.errorf("_rebuild_tensor_v2: stride: %v", err)
		}
		t, err := newTensor(st, off, size, stride)
		if err != nil {
			return nil, m.errorf("_rebuild_tensor_v2: %v", err)
		}
		return t, nil
	case "torch._utils._rebuild_parameter":
		// (data, requires_grad, backward_hooks)
		if len(a) != 3 {
			return nil, m.errorf("_rebuild_parameter called with %d arguments, want 3", len(a))
		}
		t, ok := a[0].(*tensor)
		if !ok {
			return nil, m.errorf("_rebuild_parameter of a %s, want a tensor", typeName(a[0]))
		}
		return t, nil
	}
	return nil, m.errorf("refusing to call %s.%s", g.module, g.name)
}

func ints(v any) ([]int64, error) {
	t, ok := v.(pyTuple)
	if !ok {
		return nil, fmt.Errorf("a %s, want a tuple of ints", typeName(v))
	}
	out := make([]int64, len(t))
	for i, x := range t {
		n, ok := x.(int64)
		if !ok {
			return nil, fmt.Errorf("item %d is a %s, want an int", i, typeName(x))
		}
		out[i] = n
	}
	return out, nil
}
