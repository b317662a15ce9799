// proxymat 3D preview: fitted SVBRDF maps on a plane or a sphere under a point light.
//
// Shading follows proxymat.render: GGX distribution with alpha = roughness^2,
// Schlick Fresnel, f0 = lerp(f0, albedo, metallic), albedo = basecolor^gamma,
// the "match" specular scale 1/4 (or Smith-Schlick G for "cook_torrance"),
// inverse-square falloff, diffuse and specular each clamped to [0, 1], the sum
// encoded with ^(1/gamma). With the light at the camera and the default view of
// the plane, every canvas pixel sees the surface point and directions that
// proxymat.render uses for the same pixel, so the two images agree.
//
// Reads its data from <script id="proxymat-data" type="application/json">:
// {maps: {basecolor, normal, rm: data URIs}, settings: {size, height, intensity,
// f0, gamma, model, normal_format}}. Sets window.proxymatPreview.ready after the
// first frame; window.proxymatPreview.error holds a failure message.
(function () {
  "use strict";

  var state = window.proxymatPreview = { ready: false, error: null, frames: 0 };

  function fail(message) {
    state.error = message;
    var box = document.getElementById("preview-status");
    if (box) { box.textContent = message; }
    console.error("proxymat preview: " + message);
  }

  // ------------------------------------------------------------ 4x4 matrices (column-major)
  function perspective(fovy, aspect, near, far) {
    var f = 1 / Math.tan(fovy / 2), nf = 1 / (near - far);
    return [f / aspect, 0, 0, 0, 0, f, 0, 0, 0, 0, (far + near) * nf, -1, 0, 0, 2 * far * near * nf, 0];
  }

  function sub(a, b) { return [a[0] - b[0], a[1] - b[1], a[2] - b[2]]; }
  function dot(a, b) { return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]; }
  function cross(a, b) { return [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]]; }
  function unit(a) { var l = Math.sqrt(dot(a, a)) || 1; return [a[0] / l, a[1] / l, a[2] / l]; }

  function lookAt(eye, centre, up) {
    var z = unit(sub(eye, centre)), x = unit(cross(up, z)), y = cross(z, x);
    return [x[0], y[0], z[0], 0, x[1], y[1], z[1], 0, x[2], y[2], z[2], 0,
      -dot(x, eye), -dot(y, eye), -dot(z, eye), 1];
  }

  function multiply(a, b) {
    var out = new Array(16);
    for (var c = 0; c < 4; c++) {
      for (var r = 0; r < 4; r++) {
        var s = 0;
        for (var k = 0; k < 4; k++) { s += a[k * 4 + r] * b[c * 4 + k]; }
        out[c * 4 + r] = s;
      }
    }
    return out;
  }

  // Point at distance d seen under yaw (about +y) and pitch (towards +y) from the origin.
  function orbitPoint(yaw, pitch, d) {
    return [d * Math.cos(pitch) * Math.sin(yaw), d * Math.sin(pitch), d * Math.cos(pitch) * Math.cos(yaw)];
  }

  // ------------------------------------------------------------------------ geometry
  // Each vertex: position (3), normal (3), tangent (3, towards increasing image columns), uv (2).
  // Image rows grow with v; the bitangent N x T points towards row 0, as proxymat's normal maps expect.
  function planeMesh(size) {
    var h = size / 2;
    var v = [-h, h, 0, 0, 0, 1, 1, 0, 0, 0, 0,
      h, h, 0, 0, 0, 1, 1, 0, 0, 1, 0,
      h, -h, 0, 0, 0, 1, 1, 0, 0, 1, 1,
      -h, -h, 0, 0, 0, 1, 1, 0, 0, 0, 1];
    return { vertices: new Float32Array(v), indices: new Uint16Array([0, 3, 2, 0, 2, 1]) };
  }

  // Sphere about the y axis; the texture tiles twice around and once pole to pole, so one tile
  // spans about the plane's size for radius = size / pi.
  function sphereMesh(radius, slices, stacks) {
    var v = [], idx = [];
    for (var i = 0; i <= stacks; i++) {
      var theta = Math.PI * i / stacks, st = Math.sin(theta), ct = Math.cos(theta);
      for (var j = 0; j <= slices; j++) {
        var phi = 2 * Math.PI * j / slices, sp = Math.sin(phi), cp = Math.cos(phi);
        var n = [st * sp, ct, st * cp];
        v.push(radius * n[0], radius * n[1], radius * n[2], n[0], n[1], n[2], cp, 0, -sp, 2 * j / slices, i / stacks);
      }
    }
    for (var a = 0; a < stacks; a++) {
      for (var b = 0; b < slices; b++) {
        var p = a * (slices + 1) + b, q = p + slices + 1;
        idx.push(p, q, p + 1, p + 1, q, q + 1);
      }
    }
    return { vertices: new Float32Array(v), indices: new Uint16Array(idx) };
  }

  // ------------------------------------------------------------------------- shaders
  var VERTEX = [
    "attribute vec3 aPos; attribute vec3 aNormal; attribute vec3 aTangent; attribute vec2 aUV;",
    "uniform mat4 uViewProj;",
    "varying vec3 vPos; varying vec3 vNormal; varying vec3 vTangent; varying vec2 vUV;",
    "void main() {",
    "  vPos = aPos; vNormal = aNormal; vTangent = aTangent; vUV = aUV;",
    "  gl_Position = uViewProj * vec4(aPos, 1.0);",
    "}"].join("\n");

  var FRAGMENT = [
    "precision highp float;",
    "uniform sampler2D uBase; uniform sampler2D uNormal; uniform sampler2D uRM;",
    "uniform vec3 uCamera; uniform vec3 uLight;",
    "uniform float uIntensity; uniform float uF0; uniform float uGamma; uniform float uGreen; uniform float uCookTorrance;",
    "varying vec3 vPos; varying vec3 vNormal; varying vec3 vTangent; varying vec2 vUV;",
    "const float PI = 3.141592653589793;",
    "void main() {",
    "  vec3 base = texture2D(uBase, vUV).rgb;",
    "  vec3 enc = texture2D(uNormal, vUV).rgb * 2.0 - 1.0;",
    "  enc.y *= uGreen;",
    "  vec2 rm = texture2D(uRM, vUV).rg;",
    "  vec3 N = normalize(vNormal);",
    "  vec3 T = normalize(vTangent - N * dot(N, vTangent));",
    "  vec3 B = cross(N, T);",
    "  vec3 n = normalize(T * enc.x + B * enc.y + N * enc.z);",
    "  vec3 albedo = pow(base, vec3(uGamma));",
    "  vec3 f0 = uF0 + (albedo - uF0) * rm.g;",
    "  albedo *= 1.0 - rm.g;",
    "  vec3 toLight = uLight - vPos;",
    "  float d2 = dot(toLight, toLight);",
    "  vec3 l = toLight * inversesqrt(d2);",
    "  vec3 v = normalize(uCamera - vPos);",
    "  vec3 h = normalize(l + v);",
    "  float nl = max(dot(n, l), 0.0), nv = max(dot(n, v), 0.0), nh = max(dot(n, h), 0.0), vh = max(dot(v, h), 0.0);",
    "  float alpha = max(rm.r * rm.r, 1e-3), a2 = alpha * alpha;",
    "  float den = nh * nh * (a2 - 1.0) + 1.0;",
    "  float D = a2 / (PI * den * den);",
    "  vec3 F = f0 + (1.0 - f0) * pow(1.0 - vh, 5.0);",
    "  float k = alpha / 2.0;",
    "  float scale = uCookTorrance > 0.5 ? 0.25 / ((nl * (1.0 - k) + k) * (nv * (1.0 - k) + k)) : 0.25;",
    "  float E = uIntensity / d2 * nl;",
    "  vec3 diffuse = clamp(E * albedo / PI, 0.0, 1.0);",
    "  vec3 specular = clamp(E * D * scale * F, 0.0, 1.0);",
    "  vec3 radiance = clamp(diffuse + specular, 1e-8, 1.0);",
    "  gl_FragColor = vec4(pow(radiance, vec3(1.0 / uGamma)), 1.0);",
    "}"].join("\n");

  function compile(gl, type, source) {
    var shader = gl.createShader(type);
    gl.shaderSource(shader, source);
    gl.compileShader(shader);
    if (!gl.getShaderParameter(shader, gl.COMPILE_STATUS)) {
      throw new Error("shader does not compile: " + gl.getShaderInfoLog(shader));
    }
    return shader;
  }

  function program(gl) {
    var p = gl.createProgram();
    gl.attachShader(p, compile(gl, gl.VERTEX_SHADER, VERTEX));
    gl.attachShader(p, compile(gl, gl.FRAGMENT_SHADER, FRAGMENT));
    gl.linkProgram(p);
    if (!gl.getProgramParameter(p, gl.LINK_STATUS)) { throw new Error("shaders do not link: " + gl.getProgramInfoLog(p)); }
    return p;
  }

  function upload(gl, mesh) {
    var vbo = gl.createBuffer(), ibo = gl.createBuffer();
    gl.bindBuffer(gl.ARRAY_BUFFER, vbo);
    gl.bufferData(gl.ARRAY_BUFFER, mesh.vertices, gl.STATIC_DRAW);
    gl.bindBuffer(gl.ELEMENT_ARRAY_BUFFER, ibo);
    gl.bufferData(gl.ELEMENT_ARRAY_BUFFER, mesh.indices, gl.STATIC_DRAW);
    return { vbo: vbo, ibo: ibo, count: mesh.indices.length };
  }

  function texture(gl, image) {
    var t = gl.createTexture();
    gl.bindTexture(gl.TEXTURE_2D, t);
    gl.pixelStorei(gl.UNPACK_COLORSPACE_CONVERSION_WEBGL, gl.NONE);  // maps hold data, not colours to manage
    gl.pixelStorei(gl.UNPACK_PREMULTIPLY_ALPHA_WEBGL, false);
    gl.pixelStorei(gl.UNPACK_FLIP_Y_WEBGL, false);
    gl.texImage2D(gl.TEXTURE_2D, 0, gl.RGBA, gl.RGBA, gl.UNSIGNED_BYTE, image);
    gl.generateMipmap(gl.TEXTURE_2D);  // the maps are square powers of two: REPEAT and mipmaps are allowed
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MIN_FILTER, gl.LINEAR_MIPMAP_LINEAR);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MAG_FILTER, gl.LINEAR);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_S, gl.REPEAT);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_T, gl.REPEAT);
    return t;
  }

  function loadImage(src) {
    return new Promise(function (resolve, reject) {
      var img = new Image();
      img.onload = function () { resolve(img); };
      img.onerror = function () { reject(new Error("a map could not be decoded")); };
      img.src = src;
    });
  }

  // --------------------------------------------------------------------------- viewer
  function start(data) {
    var canvas = document.getElementById("preview-canvas");
    var gl = canvas.getContext("webgl", { preserveDrawingBuffer: true, antialias: true });
    if (!gl) { fail("WebGL is not available in this browser"); return; }
    var s = data.settings;
    var prog = program(gl);
    var meshes = { plane: upload(gl, planeMesh(s.size)), sphere: upload(gl, sphereMesh(s.size / Math.PI, 96, 48)) };
    var loc = {};
    ["aPos", "aNormal", "aTangent", "aUV"].forEach(function (n) { loc[n] = gl.getAttribLocation(prog, n); });
    ["uViewProj", "uBase", "uNormal", "uRM", "uCamera", "uLight", "uIntensity", "uF0", "uGamma", "uGreen",
      "uCookTorrance"].forEach(function (n) { loc[n] = gl.getUniformLocation(prog, n); });
    // The default view is the photo's: camera and flash at height s.height above the plane, which fills the view.
    var fovy = 2 * Math.atan(s.size / 2 / s.height);
    var view = { shape: "plane", yaw: 0, pitch: 0, distance: s.height, flash: true, lightYaw: 0, lightPitch: 0,
      intensity: s.intensity };
    var pending = false;

    function cameraPos() { return orbitPoint(view.yaw, view.pitch, view.distance); }

    function lightPos() {
      return view.flash ? cameraPos() : orbitPoint(view.lightYaw, view.lightPitch, view.distance);
    }

    function draw() {
      pending = false;
      var w = canvas.width, h = canvas.height, mesh = meshes[view.shape];
      var eye = cameraPos(), up = Math.abs(view.pitch) > 1.55 ? [0, 0, -1] : [0, 1, 0];
      gl.viewport(0, 0, w, h);
      gl.clearColor(0.08, 0.08, 0.09, 1);
      gl.clear(gl.COLOR_BUFFER_BIT | gl.DEPTH_BUFFER_BIT);
      gl.enable(gl.DEPTH_TEST);
      gl.useProgram(prog);
      gl.uniformMatrix4fv(loc.uViewProj, false, multiply(perspective(fovy, w / h, 0.5, 500), lookAt(eye, [0, 0, 0], up)));
      gl.uniform3fv(loc.uCamera, eye);
      gl.uniform3fv(loc.uLight, lightPos());
      gl.uniform1f(loc.uIntensity, view.intensity);
      gl.uniform1f(loc.uF0, s.f0);
      gl.uniform1f(loc.uGamma, s.gamma);
      gl.uniform1f(loc.uGreen, s.normal_format === "dx" ? -1 : 1);
      gl.uniform1f(loc.uCookTorrance, s.model === "cook_torrance" ? 1 : 0);
      ["uBase", "uNormal", "uRM"].forEach(function (n, unitIndex) {
        gl.activeTexture(gl.TEXTURE0 + unitIndex);
        gl.bindTexture(gl.TEXTURE_2D, textures[unitIndex]);
        gl.uniform1i(loc[n], unitIndex);
      });
      gl.bindBuffer(gl.ARRAY_BUFFER, mesh.vbo);
      gl.bindBuffer(gl.ELEMENT_ARRAY_BUFFER, mesh.ibo);
      var offsets = { aPos: [3, 0], aNormal: [3, 3], aTangent: [3, 6], aUV: [2, 9] };
      Object.keys(offsets).forEach(function (n) {
        gl.enableVertexAttribArray(loc[n]);
        gl.vertexAttribPointer(loc[n], offsets[n][0], gl.FLOAT, false, 44, offsets[n][1] * 4);
      });
      gl.drawElements(gl.TRIANGLES, mesh.count, gl.UNSIGNED_SHORT, 0);
      state.frames += 1;
      state.ready = true;
    }

    function redraw() {
      if (!pending) { pending = true; window.requestAnimationFrame(draw); }
    }

    var textures = [];
    Promise.all([data.maps.basecolor, data.maps.normal, data.maps.rm].map(loadImage)).then(function (images) {
      textures = images.map(function (img) { return texture(gl, img); });
      bindControls();
      draw();
    }).catch(function (err) { fail(err.message); });

    function bindControls() {
      var drag = null;
      canvas.addEventListener("pointerdown", function (e) {
        drag = { x: e.clientX, y: e.clientY, light: e.shiftKey || e.button === 2 };
        if (drag.light && view.flash) {  // the light leaves the camera where the camera is
          view.flash = false; view.lightYaw = view.yaw; view.lightPitch = view.pitch; syncInputs();
        }
        canvas.setPointerCapture(e.pointerId);
      });
      canvas.addEventListener("pointermove", function (e) {
        if (!drag) { return; }
        var dx = (e.clientX - drag.x) * 0.01, dy = (e.clientY - drag.y) * 0.01, lim = Math.PI / 2 - 0.01;
        drag.x = e.clientX; drag.y = e.clientY;
        if (drag.light) {
          view.lightYaw += dx; view.lightPitch = Math.max(-lim, Math.min(lim, view.lightPitch + dy));
        } else {
          view.yaw -= dx; view.pitch = Math.max(-lim, Math.min(lim, view.pitch + dy));
        }
        redraw();
      });
      canvas.addEventListener("pointerup", function () { drag = null; });
      canvas.addEventListener("contextmenu", function (e) { e.preventDefault(); });
      canvas.addEventListener("wheel", function (e) {
        e.preventDefault();
        view.distance = Math.max(s.size / 3, Math.min(s.height * 4, view.distance * Math.exp(e.deltaY * 0.001)));
        redraw();
      }, { passive: false });
      document.querySelectorAll("input[name=shape]").forEach(function (el) {
        el.addEventListener("change", function () { view.shape = el.value; redraw(); });
      });
      var flash = document.getElementById("flash"), power = document.getElementById("power");
      flash.addEventListener("change", function () { view.flash = flash.checked; redraw(); });
      power.addEventListener("input", function () { view.intensity = s.intensity * Math.pow(2, Number(power.value)); redraw(); });
      document.getElementById("reset").addEventListener("click", function () {
        view.yaw = 0; view.pitch = 0; view.distance = s.height; view.flash = true; view.intensity = s.intensity;
        power.value = "0"; syncInputs(); redraw();
      });
      function syncInputs() { flash.checked = view.flash; }
    }

    // For scripted checks: change the view (any of shape, yaw, pitch, distance, flash, lightYaw, lightPitch,
    // intensity) and draw at once.
    state.set = function (changes) {
      Object.keys(changes).forEach(function (key) {
        if (!(key in view)) { throw new Error("unknown view setting " + key); }
        view[key] = changes[key];
      });
      document.querySelectorAll("input[name=shape]").forEach(function (el) { el.checked = el.value === view.shape; });
      document.getElementById("flash").checked = view.flash;
      draw();
    };
  }

  try {
    start(JSON.parse(document.getElementById("proxymat-data").textContent));
  } catch (err) {
    fail(err.message);
  }
})();
